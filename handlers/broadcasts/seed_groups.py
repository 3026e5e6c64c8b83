"""Demo data for member groups (`madoguchi demo`): a group 愛育委員 with a few members, invented and
marked so (names ending 「（サンプル）」, fictitious phone numbers). Idempotent: once the group exists
(demo data or the city's own), nothing is added or changed, so staff edits are kept. Codes are not
shown anywhere: staff reissue one on the roster page to try registering on LINE."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from bot.settings import Settings
from handlers.broadcasts.service import groups as group_service
from handlers.broadcasts.service.groups import GroupCreate, MemberIn

log = logging.getLogger(__name__)
DEMO_GROUP = GroupCreate(name="愛育委員", description="サンプルデータです（実在の名簿ではありません）。")
DEMO_MEMBERS = (
    MemberIn(name="邑久 花子（サンプル）", district="邑久", phone="090-0000-0001"),
    MemberIn(name="牛窓 洋子（サンプル）", district="牛窓", phone="090-0000-0002"),
    MemberIn(name="長船 和子（サンプル）", district="長船", phone="090-0000-0003"),
    MemberIn(name="尾張 幸子（サンプル）", district="邑久", phone=None),
)


def seed(*, db_session: Session, settings: Settings | None = None) -> bool:
    """Adds the demo group and its members unless a group of that name exists. Answers whether it did.
    The members' names are encrypted with the deployment's keys: `settings`, or those bot/seed.py
    puts in the session's info."""
    settings = settings or db_session.info.get("settings")
    if settings is None:
        log.warning("member groups' demo data skipped: no settings to encrypt the names with")
        return False
    if group_service.get_group_by_name(db_session=db_session, name=DEMO_GROUP.name) is not None:
        return False
    group = group_service.create_group(db_session=db_session, group_in=DEMO_GROUP, created_by="demo")
    rows = [(n, row) for n, row in enumerate(DEMO_MEMBERS, start=1)]
    group_service.import_rows(db_session=db_session, group=group, rows=rows, settings=settings)
    return True
