"""Staff API for スマホ教室 under /api/v1/classes (being written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/classes", tags=["classes"])
