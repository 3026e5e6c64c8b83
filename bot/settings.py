"""Settings from the environment, validated once at start-up.

Every setting has an environment variable of the same name (upper case). `serve` refuses to
start without the LINE credentials; commands that never talk to LINE do not need them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_PATH = Path("var") / "madoguchi.db"


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one line a person can act on."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    line_channel_secret: str = ""
    line_channel_access_token: str = ""
    line_api_base_url: str = "https://api.line.me"
    line_data_api_base_url: str = "https://api-data.line.me"
    line_timeout_seconds: float = Field(default=10.0, gt=0)

    database_url: str = f"sqlite:///{DEFAULT_DB_PATH}"
    public_base_url: str = ""
    secret_key: str = ""

    sandbox_enabled: bool = False
    demo_mode: bool = False

    # The web process drains the inbox itself unless a separate `madoguchi worker` does.
    process_inbox_in_web: bool = True
    inbox_batch_size: int = Field(default=64, ge=1, le=1000)
    inbox_max_attempts: int = Field(default=5, ge=1)
    inbox_lease_seconds: int = Field(default=60, ge=5)
    outbox_max_attempts: int = Field(default=8, ge=1)
    # How long a process holds a message it is sending before another may take it over. Well inside
    # the reply token's minute, so that a taken-over reply can still ask LINE whether its token was used.
    outbox_lease_seconds: int = Field(default=15, ge=5, le=40)
    # The safety-net poll: new events wake the processor at once (in the web process directly, in
    # a PostgreSQL worker by NOTIFY); polling finds what no one announced (expired leases).
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    # Every process that drains the inbox records a heartbeat this often; /healthz counts it as live
    # for three times as long. /healthz is unhealthy when an event has waited longer than the age below.
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
    health_max_pending_age_seconds: int = Field(default=120, ge=1)

    # Replies use the reply token while it is surely valid (LINE: one minute); later, push.
    reply_token_max_age_seconds: int = Field(default=50, ge=1, le=60)
    max_text_length: int = Field(default=2000, ge=100)

    city_name: str = "瀬戸内市"
    city_phone: str = "0869-22-1111"
    city_hours: str = "平日 8:30〜17:15"

    log_level: str = "INFO"
    # Proxies whose X-Forwarded-For / -Proto `serve` believes (comma-separated IPs or networks;
    # "*" believes anyone, which lets a client choose the address that login throttling counts).
    forwarded_allow_ips: str = "127.0.0.1"

    # Staff admin: sessions and login throttling.
    admin_session_idle_minutes: int = Field(default=30, ge=1)
    admin_session_max_hours: int = Field(default=12, ge=1)
    admin_login_max_failures: int = Field(default=5, ge=1)
    admin_login_ip_max_failures: int = Field(default=20, ge=1)
    admin_login_window_minutes: int = Field(default=15, ge=1)
    admin_login_lock_minutes: int = Field(default=15, ge=1)
    admin_login_delay_seconds: float = Field(default=0.5, ge=0)
    admin_login_delay_max_seconds: float = Field(default=4.0, ge=0)

    # Processed webhook events and sent messages hold what citizens typed: deleted after this many days.
    message_log_retention_days: int = Field(default=14, ge=1, le=3650)
    # Citizens' own words kept for staff, deleted after this many days (nightly): questions the FAQ
    # could not answer (from when last asked) and requests for a person (from when made; one still
    # open stays, without its words).
    faq_unanswered_retention_days: int = Field(default=90, ge=1, le=3650)
    handoff_retention_days: int = Field(default=90, ge=1, le=3650)
    # 申請・通報: a closed case (answers, photos, audit trail) is deleted this many days after closing;
    # a photo is refused above this many bytes (LINE keeps a citizen's content for a limited time only).
    forms_retention_days: int = Field(default=365, ge=1, le=3650)
    forms_max_photo_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=50 * 1024 * 1024)
    # The last messages between each citizen and the bot, kept (encrypted) so that staff taking a
    # conversation over see what came before: how many per chat (0: none), and for how long.
    transcript_messages: int = Field(default=10, ge=0, le=50)
    transcript_retention_hours: int = Field(default=24, ge=1, le=24 * 30)
    # 職員対応: how long the bot stays quiet for a citizen waiting for staff (from the request, or the
    # last staff reply) before it hands them back to the bot, politely.
    handoff_wait_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # 配信グループ (愛育委員 …): how long a member's registration code stays valid, and the throttle on
    # wrong codes per LINE user (this many wrong codes within the window locks them out for a while).
    member_code_ttl_days: int = Field(default=30, ge=1, le=365)
    member_code_max_failures: int = Field(default=5, ge=1, le=100)
    member_code_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    member_code_lock_minutes: int = Field(default=30, ge=1, le=24 * 60)

    # Japanese understanding (nlu/): the embedded engine, or a Rasa server answering /model/parse
    # (the embedded engine answers whenever Rasa is down or slow).
    nlu_backend: Literal["embedded", "rasa"] = "embedded"
    rasa_url: str = ""
    rasa_timeout_seconds: float = Field(default=2.0, gt=0)
    # Where the embedded engine caches its trained model (keyed by a hash of the training data).
    nlu_cache_dir: str = "var/nlu"

    # Counter reservations (handlers/reservations). Citizens book from `reservation_min_days_ahead`
    # days ahead up to `reservation_window_days`; a day closes to LINE bookings at
    # `reservation_cutoff_time` (Tokyo) the day before. Staff bookings (phone, counter) skip both.
    reservation_window_days: int = Field(default=30, ge=1, le=366)
    reservation_min_days_ahead: int = Field(default=1, ge=0, le=30)
    reservation_cutoff_time: str = Field(default="17:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # Upcoming (not cancelled, not yet visited) bookings one citizen may hold at once.
    reservation_max_active: int = Field(default=3, ge=1, le=50)
    # Active smartphone-class signups one LINE user may hold at once (their own and their family's).
    class_max_active_signups: int = Field(default=10, ge=1, le=100)
    # Reminder pushes (Tokyo times): the day before, and on the morning of the visit.
    reminder_day_before_time: str = Field(default="18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    reminder_same_day_time: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # How often the scheduler looks for reminders that fell due (seconds); false = no scheduler here.
    reminder_sweep_seconds: int = Field(default=60, ge=5, le=3600)
    scheduler_enabled: bool = True
    # Broadcast delivery (notifications/): multicast requests per second across every process together
    # (LINE allows 2,000/s per channel, which the outbox's own multicasts share; 0: no cap), the chunks
    # one process keeps in flight, how long a process holds a chunk it is sending before another may
    # take it over (longer than one request's LINE_TIMEOUT_SECONDS), and the retries: a chunk is tried
    # this many times, waiting the base doubled per try (at most 5 min, with jitter) between tries.
    # An idle process looks for chunks to send every broadcast_poll_seconds.
    broadcast_rate_per_second: float = Field(default=1000.0, ge=0, le=2000)
    broadcast_concurrency: int = Field(default=4, ge=1, le=32)
    broadcast_lease_seconds: int = Field(default=30, ge=2, le=600)
    broadcast_max_attempts: int = Field(default=10, ge=1, le=100)
    broadcast_retry_base_seconds: float = Field(default=1.0, gt=0, le=60)
    broadcast_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # お知らせ配信: quiet hours in Tokyo time ("21:00-08:00"; "" for none): a normal broadcast due then
    # waits until their end; 緊急 goes at once.
    broadcast_quiet_hours: str = Field(
        default="21:00-08:00", pattern=r"^$|^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"
    )
    # Fernet key(s) for personal data at rest (form answers): urlsafe base64 of 32 bytes; several,
    # comma-separated, rotate keys (the first encrypts, all decrypt). Empty: derived from SECRET_KEY.
    personal_data_key: str = ""
    # Form answers are purged this many days after the visit.
    personal_data_retention_days: int = Field(default=30, ge=0, le=3650)

    @field_validator("line_api_base_url", "line_data_api_base_url", "public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        # The SDK concatenates host and path as they are.
        return value.rstrip("/")

    @field_validator("rasa_url")
    @classmethod
    def _rasa_url_without_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def require_line(self) -> None:
        """Raises ConfigError unless everything needed to talk to LINE is set."""
        if not self.line_channel_secret:
            raise ConfigError("LINE_CHANNEL_SECRET is not set (LINE Developers console > Basic settings).")
        if not self.line_channel_access_token:
            raise ConfigError("LINE_CHANNEL_ACCESS_TOKEN is not set (Messaging API > Channel access token).")
        if not self.public_base_url:
            raise ConfigError("PUBLIC_BASE_URL is not set (the HTTPS address LINE clients load images from).")
        if not self.public_base_url.startswith("https://") and not self.sandbox_enabled:
            raise ConfigError(f"PUBLIC_BASE_URL must start with https:// (got {self.public_base_url!r}).")
        if not self.secret_key or len(self.secret_key) < 32:
            raise ConfigError("SECRET_KEY must be set to at least 32 random characters.")


def load_settings(**overrides: object) -> Settings:
    """Reads the environment; turns pydantic's report into one ConfigError line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(f"{name}: {first['msg']}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
