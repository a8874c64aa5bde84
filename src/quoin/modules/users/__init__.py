"""Users: accounts, sign-up and management."""
