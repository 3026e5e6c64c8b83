"""The broadcasts' admin pages over HTTP, on SQLite and PostgreSQL: an image is checked, re-encoded
without its EXIF (where a photo was taken) and served to LINE with a small preview; a file that is not
an image is refused with the reason and keeps nothing; a test send pushes the broadcast's own messages
to the chosen friend and is audited; viewers watch but change nothing; the dashboard lists what waits."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from admin.models import AuditEntry, StaffRole
from bot import citizens as citizen_service
from bot import clock
from handlers.broadcasts.models import Broadcast, BroadcastImage, Subscription, Topic
from tests.admin.conftest import add_staff, page_csrf, sign_in
from tests.support import LiveApp, wait_until

MORNING = datetime(2026, 12, 2, 10, 0, tzinfo=clock.TOKYO)


@pytest.fixture
def compose_app(app: LiveApp) -> Iterator[LiveApp]:
    app.app.state.admin_config.login_delay_seconds = 0
    clock.travel_to(MORNING)
    yield app
    clock.travel_to(None)


@pytest.fixture
def people(compose_app: LiveApp) -> Iterator[dict[str, httpx.Client]]:
    clients = {}
    for name, role in (("haishin", StaffRole.BROADCASTER), ("etsuran", StaffRole.VIEWER)):
        add_staff(compose_app, name, role)
        clients[name] = sign_in(compose_app, name)
    yield clients
    for client in clients.values():
        client.close()


def friend(app: LiveApp, name: str) -> str:
    user_id = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user_id, name)
    with app.db.session() as db_session:
        citizen_service.follow(db_session=db_session, line_user_id=user_id, profile=None)
        citizen_service.get_by_line_user_id(db_session=db_session, line_user_id=user_id).display_name = name  # type: ignore[union-attr]
    return user_id


def photo_with_gps() -> bytes:
    """A JPEG whose EXIF says where it was taken (GPS IFD)."""
    image = Image.new("RGB", (1600, 1200), (200, 120, 40))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (34.0, 39.0, 50.0)}  # GPSInfo: latitude
    exif[0x010F] = "TestCamera"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def compose(
    client: httpx.Client, fields: dict[str, str], image: tuple[str, bytes, str] | None = None
) -> httpx.Response:
    data = {"csrf_token": page_csrf(client.get("/admin/broadcasts/new")), **fields}
    files = {"image": image} if image else None
    return client.post("/admin/broadcasts/new", data=data, files=files)


FIELDS = {
    "title": "避難所の開設",
    "template": "notice",
    "text": "中央公民館を開設しました。",
    "all": "1",
    "timing": "now",
}


def test_an_image_is_reencoded_without_where_it_was_taken_and_served_to_line(
    compose_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    original = photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get(0x8825)
    created = compose(people["haishin"], FIELDS, ("hinan.jpg", original, "image/jpeg"))
    assert created.status_code == 303, created.text
    with compose_app.db.session() as db_session:
        token = db_session.scalars(select(BroadcastImage.token)).one()
        broadcast = db_session.scalars(select(Broadcast)).one()
        assert broadcast.image_path == token and broadcast.status == "awaiting_approval"

    served = httpx.get(f"{compose_app.base_url}/media/broadcasts/{token}")
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(served.content))
    assert image.size == (1600, 1200)
    assert not image.getexif().get(0x8825) and not image.getexif().get(0x010F)
    preview = httpx.get(f"{compose_app.base_url}/media/broadcasts/preview/{token}")
    assert preview.status_code == 200 and len(preview.content) <= 1024 * 1024
    assert max(Image.open(io.BytesIO(preview.content)).size) <= 480
    assert httpx.get(f"{compose_app.base_url}/media/broadcasts/{token[:-2]}xx").status_code == 404

    page = people["haishin"].get(created.headers["location"])
    assert f"/media/broadcasts/preview/{token}" in page.text  # the card's hero, in the preview data


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_kept(
    compose_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    refused = compose(people["haishin"], FIELDS, ("hinan.jpg", b"%PDF-1.4 not an image", "image/jpeg"))
    assert refused.status_code == 400
    assert "JPEGかPNGの画像を選んでください" in refused.text
    assert "中央公民館を開設しました。" in refused.text  # what was typed is still there
    with compose_app.db.session() as db_session:
        assert db_session.scalar(select(func.count()).select_from(Broadcast)) == 0
        assert db_session.scalar(select(func.count()).select_from(BroadcastImage)) == 0


def test_a_test_send_reaches_only_the_chosen_friend_and_is_audited(
    compose_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    me, other = friend(compose_app, "配信担当 自分"), friend(compose_app, "市民")
    created = compose(people["haishin"], FIELDS)
    detail = created.headers["location"]
    page = people["haishin"].get(detail)
    assert "配信担当 自分" in page.text and "承認待ち" in page.text
    sent = people["haishin"].post(f"{detail}/test-send", data={"csrf_token": page_csrf(page), "line_user_id": me})
    assert sent.status_code == 303
    wait_until(lambda: compose_app.sandbox.deliveries(to=me), what="the test send")
    [delivery] = compose_app.sandbox.deliveries(to=me)
    assert delivery.messages[0]["type"] == "flex" and "避難所の開設" in delivery.messages[0]["altText"]
    assert compose_app.sandbox.deliveries(to=other) == []
    with compose_app.db.session() as db_session:
        actions = list(db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["broadcast.create", "broadcast.test_send"]
    unknown = people["haishin"].post(
        f"{detail}/test-send", data={"csrf_token": page_csrf(page), "line_user_id": "U" + "0" * 32}
    )
    assert unknown.status_code == 303 and len(compose_app.sandbox.deliveries(to=me)) == 1


def test_viewers_watch_but_cannot_compose_approve_or_cancel_and_the_dashboard_lists_what_waits(
    compose_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    detail = compose(people["haishin"], FIELDS).headers["location"]
    viewer = people["etsuran"]
    page = viewer.get(detail)
    assert page.status_code == 200 and "承認待ち" in page.text
    assert "approve-button" not in page.text and "cancel-form" not in page.text
    assert viewer.get("/admin/broadcasts/new").status_code == 403
    for action in ("approve", "cancel"):
        assert viewer.post(f"{detail}/{action}", data={"csrf_token": page_csrf(page)}).status_code == 403
    dashboard = viewer.get("/admin/")
    assert "予約済みの配信" in dashboard.text and "避難所の開設" in dashboard.text
    assert people["haishin"].get("/admin/broadcasts/999999").status_code == 404


def test_a_sent_broadcast_shows_how_many_opened_it_from_lines_statistics(
    compose_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    with compose_app.db.session() as db_session:
        db_session.add(Topic(key="event", name="イベント", keywords=[], updated_at=clock.now()))
    readers = [friend(compose_app, f"市民{n}") for n in range(3)]
    with compose_app.db.session() as db_session:
        topic_id = db_session.scalar(select(Topic.id).where(Topic.key == "event"))
        for user_id in readers:
            db_session.add(Subscription(line_user_id=user_id, topic_id=topic_id, created_at=clock.now()))
    fields = {**FIELDS, "title": "秋祭り", "all": "", "topics": "event"}
    detail = compose(people["haishin"], fields).headers["location"]
    wait_until(
        lambda: people["haishin"].get(f"{detail}/progress").json()["status"] == "done" or None,
        timeout=20,
        what="the broadcast sent",
    )
    for user_id in readers[:2]:
        compose_app.sandbox.open_messages(user_id)
    page = people["haishin"].get(detail).text
    assert "開封した人 2" in page
    assert "aggregation" not in page  # no raw errors on the page
