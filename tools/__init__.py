"""Developer commands behind ``./run`` (rename, migration): not part of the application, never shipped."""
