"""The admin's table of contents: sections (a nav entry, its pages, its API) and dashboard panels.

A capability adds its screens in one call, from a module listed in SECTION_MODULES:

    router = APIRouter()                      # paths under /admin, e.g. "/reservations"
    api_router = APIRouter()                  # paths under /api/v1, e.g. "/reservations"

    register_section("reservations", "予約・受付", "/reservations",
                     roles=("counter", "viewer"), router=router, api_router=api_router)

`roles` guard every route of both routers (admins are always allowed; viewers stay read-only).
Finer rules go on the route line: `dependencies=[Depends(require_role("counter"))]`.
A section registered without a router shows an honest 「準備中」 page until it is built.

Dashboard panels work the same way: `register_dashboard_panel(...)` replaces a placeholder.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from admin.models import Actor, StaffRole

# Modules that call register_section / register_dashboard_panel when imported (one per capability).
SECTION_MODULES: tuple[str, ...] = ("handlers.faq.admin", "handlers.reservations.admin", "handlers.gis.admin")

ALL_ROLES = frozenset(StaffRole)


def _roles(roles: Iterable[StaffRole | str]) -> frozenset[StaffRole]:
    return frozenset({StaffRole.ADMIN, *(StaffRole(r) for r in roles)})


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    path: str
    roles: frozenset[StaffRole]
    router: APIRouter | None = None
    api_router: APIRouter | None = None
    order: int = 100
    description: str = ""

    @property
    def url(self) -> str:
        return "/admin" + self.path

    @property
    def built(self) -> bool:
        return self.router is not None

    def allows(self, actor: Actor | None) -> bool:
        return actor is not None and actor.role in self.roles


_sections: dict[str, Section] = {}


def register_section(
    key: str,
    label: str,
    path: str,
    roles: Iterable[StaffRole | str],
    router: APIRouter | None = None,
    *,
    api_router: APIRouter | None = None,
    order: int | None = None,
    description: str = "",
) -> Section:
    """Adds (or replaces, by key) a section: nav entry `label` linking to /admin{path}."""
    if not path.startswith("/"):
        raise ValueError(f"section path must start with '/': {path!r}")
    previous = _sections.get(key)
    section = Section(
        key=key,
        label=label,
        path=path,
        roles=_roles(roles),
        router=router,
        api_router=api_router,
        order=order if order is not None else (previous.order if previous else 100),
        description=description or (previous.description if previous else ""),
    )
    _sections[key] = section
    return section


def unregister_section(key: str) -> None:
    _sections.pop(key, None)


def get_sections() -> list[Section]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.key))


def visible_sections(actor: Actor | None) -> list[Section]:
    return [s for s in get_sections() if s.allows(actor)]


def load_section_modules() -> None:
    for name in SECTION_MODULES:
        importlib.import_module(name)


# --- dashboard panels ---------------------------------------------------------------------------

PanelLoader = Callable[[Session, Actor], dict[str, Any]]


@dataclass(frozen=True)
class DashboardPanel:
    """A box on the dashboard. Without `template` it says what will appear there, never fake numbers."""

    key: str
    title: str
    roles: frozenset[StaffRole] = ALL_ROLES
    template: str | None = None
    load: PanelLoader | None = None
    order: int = 100
    placeholder: str = ""

    def allows(self, actor: Actor | None) -> bool:
        return actor is not None and actor.role in self.roles


_panels: dict[str, DashboardPanel] = {}


def register_dashboard_panel(
    key: str,
    title: str,
    *,
    roles: Iterable[StaffRole | str] = ALL_ROLES,
    template: str | None = None,
    load: PanelLoader | None = None,
    order: int | None = None,
    placeholder: str = "",
) -> DashboardPanel:
    """`load(db_session, actor)` answers the template's context; the template gets it as `data`."""
    previous = _panels.get(key)
    panel = DashboardPanel(
        key=key,
        title=title,
        roles=_roles(roles),
        template=template,
        load=load,
        order=order if order is not None else (previous.order if previous else 100),
        placeholder=placeholder,
    )
    _panels[key] = panel
    return panel


def get_dashboard_panels(actor: Actor | None) -> list[DashboardPanel]:
    return sorted((p for p in _panels.values() if p.allows(actor)), key=lambda p: (p.order, p.key))


# --- what exists before the capabilities are built ----------------------------------------------

_EVERYONE = tuple(StaffRole)

register_section("dashboard", "ダッシュボード", "/", _EVERYONE, order=10)
register_section(
    "reservations",
    "予約・受付",
    "/reservations",
    ("counter", "viewer"),
    order=20,
    description="窓口の来庁予約の一覧、QRコードによる受付、事前入力された申請内容の確認ができるようになります。",
)
register_section(
    "faq",
    "よくある質問",
    "/faq",
    ("counter", "broadcaster", "viewer"),
    order=30,
    description="LINEで答える「よくある質問」の登録・編集と、答えられなかった質問の確認ができるようになります。",
)
register_section(
    "gis",
    "地図情報",
    "/gis",
    _EVERYONE,
    order=40,
    description="避難所・公共施設・AEDなどの地図データとごみ収集日の管理ができるようになります。",
)
register_section(
    "classes",
    "スマホ教室",
    "/classes",
    ("counter", "viewer"),
    order=50,
    description="スマホ教室の開催日程・定員・参加者名簿の管理ができるようになります。",
)
register_section(
    "broadcasts",
    "配信",
    "/broadcasts",
    ("broadcaster", "viewer"),
    order=60,
    description="配信対象（セグメント）の作成、お知らせの作成・予約配信、配信状況の確認ができるようになります。",
)
register_section("citizens", "利用者", "/citizens", _EVERYONE, order=70)
register_section("audit", "監査ログ", "/audit", (), order=80)
register_section("settings", "設定", "/settings", (), order=90)

register_dashboard_panel(
    "todays_bookings",
    "本日の予約（窓口別）",
    roles=("counter", "viewer"),
    order=30,
    placeholder="予約・受付機能の追加後に、本日の窓口ごとの予約件数が表示されます。",
)
register_dashboard_panel(
    "upcoming_classes",
    "今後のスマホ教室",
    roles=("counter", "viewer"),
    order=40,
    placeholder="スマホ教室機能の追加後に、近日の開催予定と申込状況が表示されます。",
)
register_dashboard_panel(
    "scheduled_broadcasts",
    "予約済みの配信",
    roles=("broadcaster", "viewer"),
    order=50,
    placeholder="配信機能の追加後に、予約済みの配信が表示されます。",
)
register_dashboard_panel(
    "unanswered_questions",
    "未回答の質問",
    roles=("counter", "broadcaster", "viewer"),
    order=60,
    placeholder="よくある質問機能の追加後に、LINEで答えられなかった質問の件数が表示されます。",
)
