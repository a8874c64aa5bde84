"""The floor must answer what the app answers: same JSON for the same reads, same fields for writes."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["differences"]


def _fetch(client: httpx.Client, method: str, url: str, **options: Any) -> Any:
    response = client.request(method, url, **options)
    if not response.is_success:
        raise RuntimeError(f"{method} {url} answered {response.status_code}: {response.text:.500}")
    return response.json()


def differences(app_url: str, floor_url: str, token: str, user_id: str) -> list[str]:
    """Where the floor's answers differ from the app's (empty when they match)."""
    found = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=30) as client:
        for path in (f"/api/v1/users/{user_id}", "/api/v1/users/?limit=20"):
            app, floor = _fetch(client, "GET", app_url + path), _fetch(client, "GET", floor_url + path)
            if app != floor:
                found.append(f"GET {path}: app {app!r:.300} but floor {floor!r:.300}")
        path = f"/api/v1/users/{user_id}"
        body = {"full_name": "Parity Check"}
        app, floor = (_fetch(client, "PATCH", url + path, json=body) for url in (app_url, floor_url))
        if set(app) != set(floor) or app["full_name"] != floor["full_name"]:
            found.append(f"PATCH {path}: app {app!r:.300} but floor {floor!r:.300}")
    return found
