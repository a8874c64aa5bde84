"""Security primitives: Argon2 password hashing and field encryption."""
