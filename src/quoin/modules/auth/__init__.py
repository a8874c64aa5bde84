"""Authentication: the token endpoint, credential checks and access rules."""
