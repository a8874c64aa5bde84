"""Cross-cutting infrastructure: errors, logging, request ids, OpenAPI."""
