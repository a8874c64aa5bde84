"""Operational routes: health probes and the landing page."""

from __future__ import annotations

from quoin.feature import Feature
from quoin.modules.system.controller import HealthController, landing_page

__all__ = ["FEATURE"]

FEATURE = Feature(name="system", routes=[HealthController, landing_page])
