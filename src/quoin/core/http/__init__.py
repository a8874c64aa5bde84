"""The HTTP edge: problem details, OpenAPI and docs, body rules, request ids, headers, route markers."""
