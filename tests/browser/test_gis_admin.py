"""地図情報 in a real browser: staff see the locally drawn map with its points, mark a shelter
開設中 on the status board, and a citizen who then asks for shelters sees it first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from admin.models import Actor, StaffRole
from admin.service import create_user
from handlers.gis.models import PlaceKind
from handlers.gis.service import search as search_service
from handlers.gis.service import seed as gis_seed
from tests.support import LiveApp, post_webhook, settled, wait_until

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"
USHIMADO_PORT = (34.6200, 134.1500)


@pytest.fixture
def gis_app(app: LiveApp) -> Iterator[LiveApp]:
    app.app.state.admin_config.login_delay_seconds = 0
    with app.db.session() as db_session:
        gis_seed.seed(db_session=db_session)
        create_user(
            db_session=db_session, name="bousai", role=StaffRole.COUNTER, password=PASSWORD, actor=Actor.system()
        )
    yield app


def sign_in(page: Any, app: LiveApp, name: str, *, then: str) -> None:
    page.goto(f"{app.base_url}{then}")
    page.get_by_label("ログイン名").fill(name)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{app.base_url}{then}")


def test_staff_marks_a_shelter_open_on_the_map_board_and_citizens_see_it_first(page: Any, gis_app: LiveApp) -> None:
    sign_in(page, gis_app, "bousai", then="/admin/gis/map")
    svg = page.locator("svg#gis-map")
    assert svg.is_visible()
    assert svg.locator("#gis-boundary path").count() >= 1
    assert svg.locator("circle.gis-point[data-kind='shelter'][data-scope='city']").count() == 50
    assert svg.locator("circle.gis-point[data-kind='emergency_site'][data-scope='city']").count() == 81
    assert svg.locator("circle.gis-point[data-scope='neighbour']").count() > 0  # near the border
    box = svg.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 200
    assert "国土地理院" in page.locator("#gis-sources").inner_text()

    # A shelter that is not among the five nearest to the citizen.
    with gis_app.db.session() as db_session:
        nearby = search_service.nearest(
            db_session=db_session, lat=USHIMADO_PORT[0], lon=USHIMADO_PORT[1], kind=PlaceKind.SHELTER, limit=10
        )
    target = nearby[6]

    page.get_by_role("link", name="避難所の開設状況").click()
    page.wait_for_url(f"{gis_app.base_url}/admin/gis/shelters")
    row = page.locator(f"#shelter-{target.id}")
    row.get_by_label(f"{target.name}の状況").select_option(label="開設中")
    row.get_by_role("button", name="変更").click()
    page.wait_for_url(f"{gis_app.base_url}/admin/gis/shelters*")
    assert f"「{target.name}」を「開設中」にしました。" in page.locator(".flash").inner_text()
    assert page.locator(f"#shelter-{target.id} .shelter-status").inner_text() == "開設中"
    assert page.locator("#count-open").inner_text() == "1"

    # The map shows it as open, too.
    page.goto(f"{gis_app.base_url}/admin/gis/map")
    assert page.locator(f"circle.gis-point[data-id='{target.id}'][data-status='open']").count() == 1

    # A citizen asks from the port: the open shelter comes first, with its status.
    user = "U" + uuid.uuid4().hex
    gis_app.sandbox.add_user(user, "牛窓 太郎")
    event = gis_app.sandbox.make_event("location", user, latitude=USHIMADO_PORT[0], longitude=USHIMADO_PORT[1])
    assert post_webhook(gis_app, [event]).status_code == 200
    wait_until(lambda: gis_app.sandbox.deliveries(to=user), what="the answer")
    wait_until(lambda: settled(gis_app), what="processing")
    messages = [m for d in gis_app.sandbox.deliveries(to=user) for m in d.messages]
    pins = [m for m in messages if m["type"] == "location"]
    assert pins[0]["title"] == f"【開設中】{target.name}"
    assert "開設中の避難所があります" in messages[0]["text"]
