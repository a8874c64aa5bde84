"""What the users feature expects of the shared checks: its operations, their errors, its protected routes."""

from __future__ import annotations

import httpx

from tests.support.expectations import Expectations, World
from tests.support.helpers import USERS


async def _assert_victim_unchanged(client: httpx.AsyncClient, world: World) -> None:
    assert (await client.get(world.victim.path, headers=world.victim.headers)).json() == world.victim.user


EXPECTATIONS = Expectations(
    documented_errors={
        ("/api/v1/users", "post"): frozenset({"400", "403", "409", "413", "415", "422", "429", "500", "503"}),
        ("/api/v1/users", "get"): frozenset({"401", "403", "422", "429", "500", "503"}),
        ("/api/v1/users/me", "get"): frozenset({"401", "429", "500", "503"}),
        ("/api/v1/users/{user_id}", "get"): frozenset({"401", "403", "404", "429", "500", "503"}),
        ("/api/v1/users/{user_id}", "patch"): frozenset(
            {"400", "401", "403", "404", "409", "413", "415", "422", "429", "500", "503"}
        ),
        ("/api/v1/users/{user_id}", "delete"): frozenset({"401", "403", "404", "429", "500", "503"}),
        ("/api/v1/auth/token", "post"): frozenset({"400", "401", "413", "415", "422", "429", "500", "503"}),
    },
    public=frozenset({("/api/v1/users", "post"), ("/api/v1/auth/token", "post")}),
    protected={
        "list users": lambda world: ("GET", USERS, None),
        "me": lambda world: ("GET", f"{USERS}me", None),
        "get user": lambda world: ("GET", world.victim.path, None),
        "patch user": lambda world: ("PATCH", world.victim.path, {"full_name": "Mallory"}),
        "delete user": lambda world: ("DELETE", world.victim.path, None),
    },
    assert_victim_unchanged=_assert_victim_unchanged,
)
