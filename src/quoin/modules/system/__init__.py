"""Operational routes: health probes and the landing page."""
