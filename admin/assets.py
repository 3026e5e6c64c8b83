"""A capability's own scripts and styles for its admin pages, served from its package (the admin
loads nothing from a CDN), with a content hash in the address: browsers cache them, and fetch a
changed file at once.

    ASSETS = PackageAssets(PACKAGE / "static", "/admin/handoff/static", {"inbox.js": "text/javascript"})
    router.add_api_route("/handoff/static/{name}", ASSETS.serve, include_in_schema=False)
    render(..., {"assets": ASSETS.urls()})   # {"js": "/admin/handoff/static/inbox.js?v=…", ...}
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from fastapi import HTTPException
from fastapi.responses import FileResponse, Response


@dataclass(frozen=True)
class PackageAssets:
    directory: Path
    base_url: str
    files: Mapping[str, str]  # name -> media type

    @cached_property
    def _versions(self) -> dict[str, str]:
        return {name: hashlib.sha256((self.directory / name).read_bytes()).hexdigest()[:10] for name in self.files}

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}?v={self._versions[name]}"

    def urls(self) -> dict[str, str]:
        """By extension: {"js": ..., "css": ...} (one file of each kind)."""
        return {name.rsplit(".", 1)[1]: self.url(name) for name in self.files}

    def serve(self, name: str) -> Response:
        if name not in self.files:
            raise HTTPException(status_code=404)
        return FileResponse(
            self.directory / name, media_type=self.files[name], headers={"Cache-Control": "private, max-age=3600"}
        )
