"""Who is calling: credentials, the caller, guards. Shared by every feature, owned by none.

Features plug in here: the one that keeps users hands over how to load an
active user by id (the principal), and any feature that issues credentials of
its own (API keys) registers a resolver for them. Nothing here names a feature.
"""
