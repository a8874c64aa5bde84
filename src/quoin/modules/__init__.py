"""Feature modules. Each is one folder exporting ``FEATURE``; it joins the app by its line in ``FEATURES``."""

from __future__ import annotations

from importlib import import_module

from quoin.feature import Feature

__all__ = ["FEATURES", "load_features"]


def load_features(*modules: str) -> tuple[Feature, ...]:
    """The ``FEATURE`` of each module, in order (the order routes, credentials and commands are registered)."""
    features = tuple(import_module(module).FEATURE for module in modules)
    if strangers := [module for module, f in zip(modules, features, strict=True) if not isinstance(f, Feature)]:
        raise TypeError(f"FEATURE is not a quoin.feature.Feature in {strangers}")
    return features


# Add a feature with its line here; remove one by deleting its folder, its tests and its line.
FEATURES = load_features(
    "quoin.modules.users",
    "quoin.modules.api_keys",
    "quoin.modules.system",
)
