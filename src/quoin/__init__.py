"""QuoinAPI: a production-grade REST API template."""

__version__ = "0.1.0"
