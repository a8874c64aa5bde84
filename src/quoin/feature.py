"""What a feature module hands the app: its routes, credentials, caller and commands, in one value.

Each folder under ``quoin.modules`` exports ``FEATURE`` and joins the app by
one line in ``quoin.modules.FEATURES``. Features never import each other; what
they share (the caller, guards, route markers, credential resolution) lives in
``quoin.auth`` and ``quoin.core``, below them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import click
from litestar import Controller, Litestar, Router
from litestar.config.app import AppConfig
from litestar.openapi.spec import Tag
from litestar.plugins import InitPluginProtocol
from litestar.types import ControllerRouterHandler

from quoin.auth.credentials import CredentialResolver
from quoin.auth.principal import PrincipalSource
from quoin.config import Settings
from quoin.core.http.openapi import add_openapi_correction
from quoin.db.changes import ChangeFeed

__all__ = ["API_PREFIX", "Feature", "FeaturesPlugin", "credential_resolvers", "principal_source"]

API_PREFIX = "/api/v1"


def _no_credentials(_settings: Settings, _changes: ChangeFeed) -> Sequence[CredentialResolver]:
    return ()


@dataclass(frozen=True, kw_only=True)
class Feature:
    """A feature's contributions; every field but ``name`` is optional."""

    name: str
    api_routes: Sequence[ControllerRouterHandler] = ()  # mounted under /api/v1
    routes: Sequence[ControllerRouterHandler] = ()  # mounted at the root (probes, pages)
    # Credentials other than bearer tokens that this feature issues, built from the settings
    # and the feed of row changes (to remember credentials without reading them every time).
    credentials: Callable[[Settings, ChangeFeed], Sequence[CredentialResolver]] = field(default=_no_credentials)
    # Where callers come from: exactly one feature (the one that keeps users) provides it.
    principal_source: PrincipalSource | None = None
    commands: Sequence[click.Command] = ()  # subcommands of the `quoin` CLI


class FeaturesPlugin(InitPluginProtocol):
    """Mounts every feature's routes (API routes under ``/api/v1``) and documents their tags."""

    def __init__(self, features: Sequence[Feature]) -> None:
        self._features = features

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add the routes, and the tags their controllers declare to the document."""
        api = [route for feature in self._features for route in feature.api_routes]
        app_config.route_handlers += [Router(API_PREFIX, route_handlers=api)]
        app_config.route_handlers += [route for feature in self._features for route in feature.routes]
        add_openapi_correction(app_config, self._describe_tags)
        return app_config

    def _describe_tags(self, app: Litestar) -> None:
        """Each controller's tags, described by the first line of its docstring, in feature order."""
        tags: dict[str, Tag] = {}
        for feature in self._features:
            for route in (*feature.api_routes, *feature.routes):
                if isinstance(route, type) and issubclass(route, Controller):
                    summary = (inspect.getdoc(route) or "").split("\n", 1)[0]
                    declared: Sequence[str] = getattr(route, "tags", None) or ()  # a class attribute of the controller
                    tags.update({name: Tag(name=name, description=summary) for name in declared})
        app.openapi_schema.tags = list(tags.values())


def principal_source(features: Sequence[Feature]) -> PrincipalSource:
    """The one feature's source of callers; a configuration error if none or several provide one."""
    sources = [feature.principal_source for feature in features if feature.principal_source is not None]
    if len(sources) != 1:
        raise RuntimeError(f"exactly one feature must provide principal_source; {len(sources)} do")
    return sources[0]


def credential_resolvers(
    features: Sequence[Feature], settings: Settings, changes: ChangeFeed
) -> list[CredentialResolver]:
    """Every feature's credential resolvers, in feature order."""
    return [resolver for feature in features for resolver in feature.credentials(settings, changes)]
