"""Where Litestar's own CLI finds the app from the project root (`litestar routes`); `quoin` is the product's."""

from quoin.app import create_app

__all__ = ["create_app"]
