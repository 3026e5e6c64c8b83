"""`madoguchi demo`: the whole product on this machine with no LINE account.

SQLite under ./var, secrets generated once and kept in ./var/demo-secrets.json (the demo staff
password too), the LINE sandbox standing in for LINE (its citizens restored from the database on a
restart), the rich menu deployed to it, and a demo staff login.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from pathlib import Path
from typing import Any

from bot.settings import Settings, load_settings

log = logging.getLogger(__name__)


def demo_secrets(var_dir: Path) -> dict[str, str]:
    path = var_dir / "demo-secrets.json"
    if path.exists():
        values = json.loads(path.read_text())
        if "personal_data_key" in values and "demo_staff_password" in values:
            return values
        # A file from before personal data was encrypted gets its key added once.
        values.setdefault("personal_data_key", _fernet_key())
    else:
        values = {
            "line_channel_secret": secrets.token_hex(16),
            "line_channel_access_token": secrets.token_urlsafe(32),
            "secret_key": secrets.token_urlsafe(48),
            "personal_data_key": _fernet_key(),
        }
    if "demo_staff_password" not in values:
        # The demo staff login, kept like the other secrets: the same after every restart.
        values["demo_staff_password"] = secrets.token_urlsafe(12)
    var_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


def _fernet_key() -> str:
    """reservations: the key that encrypts form answers at rest (a Fernet key: urlsafe base64 of 32 bytes)."""
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def demo_settings(*, host: str, port: int, var_dir: Path, **overrides: Any) -> Settings:
    base = f"http://{host}:{port}"
    secret_values = {k: v for k, v in demo_secrets(var_dir).items() if k != "demo_staff_password"}
    values: dict[str, Any] = {
        **secret_values,
        "database_url": f"sqlite:///{var_dir / 'demo.db'}",
        "public_base_url": base,
        "line_api_base_url": f"{base}/sandbox/line",
        "line_data_api_base_url": f"{base}/sandbox/line",
        "sandbox_enabled": True,
        "demo_mode": True,
    }
    values.update(overrides)
    return load_settings(**values)


async def deploy_rich_menu_when_up(app: Any, base_url: str) -> None:
    """Deploys the rich menu to the sandbox once the server answers (it cannot before it listens)."""
    import httpx

    from bot import richmenu

    async with httpx.AsyncClient() as http:
        for _ in range(100):
            try:
                if (await http.get(f"{base_url}/healthz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    client = app.state.line_client
    try:
        await richmenu.deploy(api=client.api, blob_api=client.blob_api)
    except Exception:
        log.exception("rich menu deployment to the sandbox failed")


def restore_sandbox_citizens(platform: Any, db: Any) -> int:
    """The sandbox keeps its LINE users in memory; after a restart of the demo it knows again every
    citizen the database knows (friends, and those who blocked), so their chats go on."""
    from sqlalchemy import select

    from bot.citizens import Citizen

    with db.session() as db_session:
        citizens = list(db_session.scalars(select(Citizen).order_by(Citizen.id)))
    restored = 0
    for citizen in citizens:
        if platform.user(citizen.line_user_id) is None:
            name = (citizen.display_name or "利用者")[:20]
            platform.add_user(citizen.line_user_id, name, followed=citizen.is_reachable)
            restored += 1
    return restored
