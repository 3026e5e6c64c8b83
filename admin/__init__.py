"""Staff web UI and the JSON API under /api/v1."""

from __future__ import annotations

from fastapi import FastAPI


def register(app: FastAPI) -> None:
    """Mounts the admin UI and the staff API on the app."""
