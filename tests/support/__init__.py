"""What tests share: settings, HTTP helpers, private PostgreSQL and Redis, the loopback cluster, /proc readers."""
