"""Database wiring: plugin configuration, error translation, migrations."""
