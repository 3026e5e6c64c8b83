"""What the engine asks LINE besides sending, and what the sandbox grew for broadcasts: the quota, reach
statistics per aggregation unit, random faults that repeat with their seed, and customAggregationUnits."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from bot import clock
from bot.line_client import LineApiError, LineClient
from bot.sandbox.guard import CallGuard
from bot.sandbox.records import RandomFaults
from notifications import engine
from tests.bot.processes import TOKEN, Sandbox
from tests.notifications.support import MESSAGES, engine_settings, line, user_ids

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sandbox_and_client() -> AsyncIterator[tuple[Sandbox, LineClient]]:
    with line() as sandbox:
        client = LineClient(engine_settings("sqlite://", sandbox), retry_delays=())
        try:
            yield sandbox, client
        finally:
            await client.close()


async def test_quota_says_limit_and_use(sandbox_and_client: tuple[Sandbox, LineClient]) -> None:
    sandbox, client = sandbox_and_client
    assert await engine.quota(client) == engine.Quota(limit=None, used=0)
    people = user_ids(3)
    await client.multicast(people, MESSAGES, retry_key=str(uuid.uuid4()))
    sandbox.platform.set_quota(1000)
    quota = await engine.quota(client)
    assert (quota.limit, quota.used, quota.remaining) == (1000, 3, 997)


async def test_insight_counts_who_was_reached_and_who_opened(sandbox_and_client: tuple[Sandbox, LineClient]) -> None:
    sandbox, client = sandbox_and_client
    people = user_ids(4)
    for person in people:
        sandbox.platform.add_user(person, "テスト")
    await client.multicast(people, MESSAGES, retry_key=str(uuid.uuid4()), custom_aggregation_units=["bousai_1"])
    await client.multicast(people, MESSAGES, retry_key=str(uuid.uuid4()))  # another message, no unit
    sandbox.platform.timeline(people[0])  # the chat page showed it
    sandbox.platform.open_messages(people[1])
    today = clock.now_tokyo().date()

    insight = await engine.insight(client, "bousai_1", today, today)
    assert insight is not None
    assert (insight.opened, insight.clicked, insight.clicks) == (2, None, [])
    nothing = await engine.insight(client, "other_unit", today, today)
    assert nothing is not None and nothing.opened == 0
    long_ago = await engine.insight(client, "bousai_1", date(2020, 1, 1), date(2020, 1, 2))
    assert long_ago == engine.Insight(0, None, None, [])
    assert await engine.insight(client, "防災", today, today) is None  # LINE refuses the name: no figures


async def test_the_sandbox_checks_aggregation_units(sandbox_and_client: tuple[Sandbox, LineClient]) -> None:
    sandbox, client = sandbox_and_client
    for units in (["a", "b"], ["too_long_" * 4], ["ハイフン-"]):
        with pytest.raises(LineApiError) as refused:
            await client.multicast(user_ids(1), MESSAGES, retry_key=str(uuid.uuid4()), custom_aggregation_units=units)
        assert refused.value.status == 400
    await client.multicast(user_ids(1), MESSAGES, retry_key=str(uuid.uuid4()), custom_aggregation_units=["ok_1"])
    assert sandbox.platform.deliveries(endpoint="multicast")[-1].aggregation_units == ["ok_1"]


async def test_a_429_for_the_monthly_limit_is_not_retried(sandbox_and_client: tuple[Sandbox, LineClient]) -> None:
    sandbox, client = sandbox_and_client
    sandbox.platform.set_quota(2)
    with pytest.raises(LineApiError) as refused:
        await client.multicast(user_ids(3), MESSAGES, retry_key=str(uuid.uuid4()), retry=False)
    assert refused.value.status == 429 and not refused.value.retryable
    assert sandbox.platform.deliveries() == []


def test_random_faults_repeat_with_their_seed() -> None:
    def statuses(seed: int) -> list[int | None]:
        faults = RandomFaults(random.Random(seed), [(429, 0.10), (500, 0.01)])
        return [faults.draw() for _ in range(2000)]

    first = statuses(3)
    assert first == statuses(3) and first != statuses(4)
    assert 140 <= first.count(429) <= 260 and 5 <= first.count(500) <= 40
    guard = CallGuard(lambda: 0.0)
    with pytest.raises(ValueError):
        guard.inject_random_faults("multicast", {200: 0.5}, 1)
    with pytest.raises(ValueError):
        guard.inject_random_faults("multicast", {429: 0.7, 500: 0.4}, 1)


def test_random_faults_answer_like_line_and_record_nothing() -> None:
    with line() as sandbox:
        sandbox.platform.inject_random_faults("multicast", {500: 1.0}, seed=1)
        body = {"to": user_ids(1), "messages": MESSAGES}
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Line-Retry-Key": str(uuid.uuid4())}
        answer = httpx.post(f"{sandbox.url}/sandbox/line/v2/bot/message/multicast", json=body, headers=headers)
        assert answer.status_code == 500 and answer.json()["message"] == "Internal server error"
        sandbox.platform.inject_random_faults("multicast", {})
        again = httpx.post(f"{sandbox.url}/sandbox/line/v2/bot/message/multicast", json=body, headers=headers)
        assert again.status_code == 200  # the failed try did not take the key
        assert len(sandbox.platform.deliveries(endpoint="multicast")) == 1
