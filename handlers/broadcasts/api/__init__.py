"""Staff API for お知らせ配信 under /api/v1 (Bearer token; roles broadcaster and admin, viewers
read-only): /segments (topics), /groups and their members, /broadcasts. One router per resource;
the admin mounts `router` behind its token guard and the section's roles."""

from __future__ import annotations

from fastapi import APIRouter

from handlers.broadcasts.api import broadcasts, groups, segments

router = APIRouter()
for resource in (segments.router, groups.router, broadcasts.router):
    router.include_router(resource)
