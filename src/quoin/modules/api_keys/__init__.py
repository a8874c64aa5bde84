"""API keys: long-lived credentials for machine clients, acting as their owner."""
