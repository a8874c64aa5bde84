"""Fixed-window rate limits: counters (memory or Redis), the limiter, and the middleware that applies them."""
