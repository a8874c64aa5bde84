"""The server process: the graceful drain on SIGTERM and the start-up garbage-collector freeze."""
