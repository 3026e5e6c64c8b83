"""The admin's own knobs, read from Settings when it has them, else the defaults below.

Kept as one object on `app.state.admin_config` so tests can turn the login delay down without
touching the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class AdminConfig:
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    login_max_failures: int = 5
    # Staff at one city office usually share one address (a proxy), so the per-address limit is higher.
    login_ip_max_failures: int = 20
    login_window_minutes: int = 15
    login_lock_minutes: int = 15
    # The first failure waits this long, each further one twice as long (capped).
    login_delay_seconds: float = 0.5
    login_delay_max_seconds: float = 4.0
    public_base_url: str = ""

    @classmethod
    def from_settings(cls, settings: Any) -> AdminConfig:
        def pick(name: str, default: Any) -> Any:
            return getattr(settings, f"admin_{name}", default)

        defaults = cls()
        return cls(
            session_idle_minutes=int(pick("session_idle_minutes", defaults.session_idle_minutes)),
            session_max_hours=int(pick("session_max_hours", defaults.session_max_hours)),
            login_max_failures=int(pick("login_max_failures", defaults.login_max_failures)),
            login_ip_max_failures=int(pick("login_ip_max_failures", defaults.login_ip_max_failures)),
            login_window_minutes=int(pick("login_window_minutes", defaults.login_window_minutes)),
            login_lock_minutes=int(pick("login_lock_minutes", defaults.login_lock_minutes)),
            login_delay_seconds=float(pick("login_delay_seconds", defaults.login_delay_seconds)),
            login_delay_max_seconds=float(pick("login_delay_max_seconds", defaults.login_delay_max_seconds)),
            public_base_url=str(getattr(settings, "public_base_url", "") or ""),
        )
