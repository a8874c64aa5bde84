"""What each feature's tests expect of the shared checks, gathered over the features the app registers.

The shared tests (the OpenAPI document, the access matrix) keep no list of
operations or credentials: each feature's test folder holds
``expectations.py`` exporting ``EXPECTATIONS``, so a feature brings its
expectations and takes them with it when it is removed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from quoin.config import Settings
from quoin.modules import FEATURES
from tests.support.helpers import Account

__all__ = ["CredentialMaker", "Expectations", "Operation", "Request", "World", "registered"]

Operation = tuple[str, str]  # (path template, method), as the OpenAPI document keys an operation
Request = tuple[str, str, dict[str, object] | None]  # method, path, JSON body


@dataclass(frozen=True)
class World:
    """A victim user, the ids of what the features gave it, and the settings the app signs tokens with."""

    victim: Account
    owned: Mapping[str, str]
    settings: Settings


CredentialMaker = Callable[[httpx.AsyncClient, AsyncConnection, World], Awaitable[dict[str, str]]]


async def _gives_nothing(_client: httpx.AsyncClient, _victim: Account) -> dict[str, str]:
    return {}


async def _keeps_nothing(_client: httpx.AsyncClient, _world: World) -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class Expectations:
    """One feature's part of the shared checks."""

    # Every operation the feature serves, with the error statuses its document states.
    documented_errors: Mapping[Operation, frozenset[str]]
    public: frozenset[Operation] = frozenset()  # those of them that take no credentials
    # Its protected operations by name, each aimed at the victim's resources.
    protected: Mapping[str, Callable[[World], Request]] = field(default_factory=dict)
    bad_credentials: Sequence[CredentialMaker] = ()  # the ways a credential the feature issues can be wrong
    # Gives the victim resources of the feature's (their ids, by name), before each access test.
    give_victim: Callable[[httpx.AsyncClient, Account], Awaitable[dict[str, str]]] = _gives_nothing
    # Asserts the victim's resources are as given: a refused request changed nothing.
    assert_victim_unchanged: Callable[[httpx.AsyncClient, World], Awaitable[None]] = _keeps_nothing


def registered() -> tuple[Expectations, ...]:
    """The expectations of every feature the app registers, in feature order; a feature without them fails."""
    return tuple(import_module(f"tests.modules.{feature.name}.expectations").EXPECTATIONS for feature in FEATURES)
