"""The FAQ's admin section: its staff API (handlers/faq/api.py); the pages are still 「準備中」.

Its API routes get the request's own database session from admin.auth.
"""

from __future__ import annotations

from fastapi import Depends

from admin.auth import DbSession, require_role
from admin.models import StaffRole
from admin.nav import Section, staff_roles
from handlers.faq.api import build_router

SCREENS = (
    Section(
        "faq",
        "よくある質問",
        "/faq",
        staff_roles(StaffRole.COUNTER, StaffRole.BROADCASTER, StaffRole.VIEWER),
        # What citizens typed is personal data: counter staff and admins only.
        api_router=build_router(DbSession, personal_data_guard=[Depends(require_role(StaffRole.COUNTER))]),
        order=30,
        description="LINEで答える「よくある質問」の登録・編集と、答えられなかった質問の確認ができるようになります。",
    ),
)
