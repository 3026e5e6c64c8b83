"""The admin's table of contents, built per app: sections (a nav entry, its pages, its API) and
dashboard panels.

A capability declares its screens in its admin module and lists them in `Capability.admin`:

    router = APIRouter()                      # paths under /admin, e.g. "/reservations"
    api_router = APIRouter()                  # paths under /api/v1, e.g. "/reservations"
    SCREENS = (Section("reservations", "予約・受付", "/reservations", roles=staff_roles("counter", "viewer"),
                       router=router, api_router=api_router, order=20),
               DashboardPanel("todays_bookings", "本日の予約（窓口別）", template=..., load=..., order=30))

`roles` guard every route of both routers (admins are always allowed; viewers stay read-only).
Finer rules go on the route line: `dependencies=[Depends(require_role("counter"))]`.
A section may show a number beside its nav entry (`badge`, e.g. requests nobody has answered yet),
counted on every page for the roles that see the section; with `badge_url` (a route of the section
answering `{"count": n}`) admin.js refreshes it by short polling, without a reload.
A section planned but not built yet (PLANNED_SECTIONS) shows an honest 「準備中」 page; a
capability's section with the same key takes its place. Nothing here is mutated at import time:
`build_nav(...)` answers a new `Nav` for each app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from admin.models import Actor, StaffRole

log = logging.getLogger("madoguchi.admin.nav")

ALL_ROLES = frozenset(StaffRole)


def staff_roles(*roles: StaffRole | str) -> frozenset[StaffRole]:
    """The roles allowed; admins always are."""
    return _roles(roles)


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
    # The capability's own template folder (searched after admin's), e.g. handlers/gis/templates.
    templates: Path | None = None
    # A number beside the nav entry (hidden at 0): what it counts (`badge_label`, read aloud), and the
    # section's route answering {"count": n} that admin.js polls to refresh it without a reload.
    badge: Callable[[Session], int] | None = None
    badge_label: str = ""
    badge_url: str | None = None

    @property
    def url(self) -> str:
        return "/admin" + self.path

    @property
    def built(self) -> bool:
        return self.router is not None

    def allows(self, actor: Actor | None) -> bool:
        return actor is not None and actor.role in self.roles

    def badge_count(self, request: Request) -> int | None:
        """The badge's number for the page being drawn, counted in the request's own transaction
        (admin.auth keeps it on request.state; on SQLite a second one would wait for it forever).
        None when the section has no badge, the transaction is over (an error page), or the count
        fails: no page fails for its badge."""
        db_session = getattr(request.state, "db_session", None)
        if self.badge is None or db_session is None or not db_session.in_transaction():
            return None
        try:
            with db_session.begin_nested():  # a failed count must not spoil the page's transaction
                return int(self.badge(db_session))
        except Exception as exc:
            log.warning("the nav badge of %s could not be counted: %s", self.key, type(exc).__name__)
            return None


def planned(key: str, label: str, path: str, roles: Iterable[StaffRole | str], order: int, description: str) -> Section:
    """A section not built yet: a 「準備中」 page saying what will be there."""
    return Section(key, label, path, _roles(roles), order=order, description=description)


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


@dataclass(frozen=True)
class Nav:
    """One app's sections and panels, in order."""

    sections: tuple[Section, ...]
    panels: tuple[DashboardPanel, ...] = field(default=())

    def visible_sections(self, actor: Actor | None) -> list[Section]:
        return [s for s in self.sections if s.allows(actor)]

    def dashboard_panels(self, actor: Actor | None) -> list[DashboardPanel]:
        return [p for p in self.panels if p.allows(actor)]

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)


def build_nav(core: Sequence[Section | DashboardPanel], capability_screens: Sequence[Section | DashboardPanel]) -> Nav:
    """The shell's own screens, then each capability's; a planned section or panel is shown only
    while no capability provides its key."""
    sections: dict[str, Section] = {s.key: s for s in PLANNED_SECTIONS}
    panels: dict[str, DashboardPanel] = {p.key: p for p in PLANNED_PANELS}
    for item in (*core, *capability_screens):
        if isinstance(item, Section):
            sections[item.key] = item
        elif isinstance(item, DashboardPanel):
            panels[item.key] = item
        else:
            raise TypeError(f"not an admin section or panel: {item!r}")
    return Nav(
        sections=tuple(sorted(sections.values(), key=lambda s: (s.order, s.key))),
        panels=tuple(sorted(panels.values(), key=lambda p: (p.order, p.key))),
    )


# --- what is planned and not built yet ----------------------------------------------------------

_EVERYONE = tuple(StaffRole)

PLANNED_SECTIONS: tuple[Section, ...] = (
    planned(
        "reservations",
        "予約・受付",
        "/reservations",
        ("counter", "viewer"),
        20,
        "窓口の来庁予約の一覧、QRコードによる受付、事前入力された申請内容の確認ができるようになります。",
    ),
    planned(
        "faq",
        "よくある質問",
        "/faq",
        ("counter", "broadcaster", "viewer"),
        30,
        "LINEで答える「よくある質問」の登録・編集と、答えられなかった質問の確認ができるようになります。",
    ),
    planned(
        "gis",
        "地図情報",
        "/gis",
        _EVERYONE,
        40,
        "避難所・公共施設・AEDなどの地図データとごみ収集日の管理ができるようになります。",
    ),
    planned(
        "classes",
        "スマホ教室",
        "/classes",
        ("counter", "viewer"),
        50,
        "スマホ教室の開催日程・定員・参加者名簿の管理ができるようになります。",
    ),
    planned(
        "broadcasts",
        "配信",
        "/broadcasts",
        ("broadcaster", "viewer"),
        60,
        "配信対象（セグメント）の作成、お知らせの作成・予約配信、配信状況の確認ができるようになります。",
    ),
)

PLANNED_PANELS: tuple[DashboardPanel, ...] = (
    DashboardPanel(
        "todays_bookings",
        "本日の予約（窓口別）",
        roles=_roles(("counter", "viewer")),
        order=30,
        placeholder="予約・受付機能の追加後に、本日の窓口ごとの予約件数が表示されます。",
    ),
    DashboardPanel(
        "upcoming_classes",
        "今後のスマホ教室",
        roles=_roles(("counter", "viewer")),
        order=40,
        placeholder="スマホ教室機能の追加後に、近日の開催予定と申込状況が表示されます。",
    ),
    DashboardPanel(
        "scheduled_broadcasts",
        "予約済みの配信",
        roles=_roles(("broadcaster", "viewer")),
        order=50,
        placeholder="配信機能の追加後に、予約済みの配信が表示されます。",
    ),
    DashboardPanel(
        "unanswered_questions",
        "未回答の質問",
        roles=_roles(("counter", "broadcaster", "viewer")),
        order=60,
        placeholder="よくある質問機能の追加後に、LINEで答えられなかった質問の件数が表示されます。",
    ),
)
