"""Settings are passed, not read from a cached global: an app built with another city's settings
speaks for that city in every sentence (the catalog's city, phone and hours), end to end."""

from __future__ import annotations

import uuid

from tests.support import live_app, post_webhook, texts, wait_until

OTHER_CITY = {"city_name": "備前市", "city_phone": "0869-64-1800", "city_hours": "平日 8:30〜17:15（備前）"}


def test_another_citys_settings_are_in_every_sentence(database_url: str) -> None:
    with live_app(database_url, **OTHER_CITY) as app:
        user = "U" + uuid.uuid4().hex
        app.sandbox.add_user(user, "備前 太郎")
        said = [
            app.sandbox.make_event("follow", user),
            app.sandbox.make_event("text", user, text="職員と話したい"),
            app.sandbox.make_event("text", user, text="メニュー"),  # back to the bot from waiting for staff
            app.sandbox.make_event("text", user, text="今日の株価を教えて"),
            app.sandbox.make_event("text", user, text="ぬぬぬぬぬ"),
        ]
        for count, event in enumerate(said, start=1):
            assert post_webhook(app, [event]).status_code == 200
            wait_until(lambda n=count: len(app.sandbox.deliveries(to=user)) >= n, what=f"answer {count}")
        seen = "\n".join(texts(app.sandbox.deliveries(to=user)))
    assert "備前市" in seen and OTHER_CITY["city_phone"] in seen and "（備前）" in seen
    assert "瀬戸内" not in seen and "0869-22-1111" not in seen, seen
