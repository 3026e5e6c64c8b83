"""Who may change broadcasts, topics and groups (pages and API alike): broadcasters and admins;
viewers read. Outside admin/ and api/ so that both import it without importing each other."""

from __future__ import annotations

from fastapi import Depends

from admin.auth import require_role

broadcaster_only = [Depends(require_role("broadcaster"))]
