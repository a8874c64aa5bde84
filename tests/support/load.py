"""Steady reads and sign-ups through a balancer, recording what every client saw.

The load of the drain test and of the image fleet's rolling restart (``deploy/image/check``).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field

import httpx

from tests.support.helpers import PASSWORD, USERS

__all__ = ["Load"]


@dataclass
class Load:
    """Steady reads and sign-ups through the balancer; what every client saw."""

    base: str
    token: str
    outcomes: list[tuple[float, str, int]] = field(default_factory=list)  # (time, method, status)
    created: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    _emails: itertools.count[int] = field(default_factory=itertools.count)

    async def _reader(self, client: httpx.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        while not self.stop.is_set():
            status = await self._call(client.get(f"{USERS}me", headers=headers))
            self.outcomes.append((time.monotonic(), "GET", status))

    async def _writer(self, client: httpx.AsyncClient) -> None:
        while not self.stop.is_set():
            email = f"load-{next(self._emails)}@example.com"
            status = await self._call(client.post(USERS, json={"email": email, "password": PASSWORD}))
            self.outcomes.append((time.monotonic(), "POST", status))
            if status == 201:
                self.created.append(email)

    @staticmethod
    async def _call(request: Awaitable[httpx.Response]) -> int:
        try:
            response = await request
        except httpx.TransportError:
            return 599  # the balancer dropped the connection: a failure the client sees
        return int(response.status_code)

    async def run(self, readers: int = 6, writers: int = 3) -> None:
        """Until ``stop`` is set."""
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as client:
            await asyncio.gather(
                *(self._reader(client) for _ in range(readers)), *(self._writer(client) for _ in range(writers))
            )
