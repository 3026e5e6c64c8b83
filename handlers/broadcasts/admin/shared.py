"""What the broadcasts' pages share: addresses and the role guard for changes."""

from __future__ import annotations

from pathlib import Path as FilePath

from fastapi import Depends

from admin.auth import require_role

PACKAGE = FilePath(__file__).parent.parent
BASE = "/admin/broadcasts"
broadcaster_only = [Depends(require_role("broadcaster"))]
