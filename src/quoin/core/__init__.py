"""Infrastructure that knows nothing of the features: HTTP edge, rate limits, observability, security, runtime."""
