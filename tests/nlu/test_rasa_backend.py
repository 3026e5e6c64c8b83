"""The Rasa backend without Rasa: a stand-in HTTP server answering /model/parse as Rasa does, and
no server at all (the embedded engine answers, and the failure is logged)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from nlu.embedded import EmbeddedEngine
from nlu.rasa_backend import RasaEngine
from tests.nlu.conftest import REFERENCE
from tests.support import free_port


class FakeRasa:
    """Answers /model/parse with `answer` (a dict, or a callable of the text); can be slowed down."""

    def __init__(self) -> None:
        self.answer: Any = None
        self.delay = 0.0
        self.calls = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake.calls += 1
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                time.sleep(fake.delay)
                answer = fake.answer(body["text"]) if callable(fake.answer) else fake.answer
                payload = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    yield fake
    fake.close()


def rasa_answer(
    text: str, intent: str, confidence: float, entities: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}, {"name": "faq", "confidence": 0.01}],
        "entities": entities or [],
        "text_tokens": [[0, len(text)]],
    }


def test_maps_rasas_answer_and_resolves_its_dates(fake_rasa: FakeRasa, engine: EmbeddedEngine) -> None:
    text = "明日牛窓支所で予約"
    fake_rasa.answer = rasa_answer(
        text,
        "reservation_make",
        0.93,
        [
            {"entity": "date", "value": "明日", "start": 0, "end": 2, "extractor": "DIETClassifier"},
            {"entity": "district", "value": "牛窓", "start": 2, "end": 4, "extractor": "RegexEntityExtractor"},
            {"entity": "district", "value": "牛窓", "start": 2, "end": 4, "extractor": "DIETClassifier"},
        ],
    )
    rasa = RasaEngine(fake_rasa.url, timeout=2, fallback=engine)
    result = rasa.parse(text, REFERENCE)
    assert (result.intent.name, result.intent.confidence) == ("reservation_make", 0.93)
    assert [(e.entity, e.value, e.start, e.end) for e in result.entities] == [
        ("date", "2026-11-25", 0, 2),
        ("district", "牛窓", 2, 4),
    ]
    assert result.entities[1].extractor == "RegexEntityExtractor"
    assert rasa.fallbacks == 0


def test_rasas_fallback_intent_becomes_an_unsure_guess(fake_rasa: FakeRasa, engine: EmbeddedEngine) -> None:
    answer = rasa_answer("うーん", "nlu_fallback", 0.5)
    answer["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "greet", "confidence": 0.31},
        {"name": "faq", "confidence": 0.2},
    ]
    fake_rasa.answer = answer
    result = RasaEngine(fake_rasa.url, timeout=2, fallback=engine).parse("うーん")
    assert result.intent.name == "greet"
    assert result.intent_name is None  # under the bar: the bot treats it as unsure
    assert [r.name for r in result.intent_ranking] == ["greet", "faq"]


def test_a_down_server_falls_back_to_the_embedded_engine_and_is_logged(
    engine: EmbeddedEngine, caplog: pytest.LogCaptureFixture
) -> None:
    rasa = RasaEngine(f"http://127.0.0.1:{free_port()}", timeout=1, fallback=engine)
    with caplog.at_level(logging.WARNING, logger="nlu.rasa_backend"):
        result = rasa.parse("スマホ教室に申し込みたい", REFERENCE)
    assert result == engine.parse("スマホ教室に申し込みたい", REFERENCE)
    assert rasa.fallbacks == 1
    assert any("embedded engine answers" in r.getMessage() for r in caplog.records)


def test_a_slow_server_times_out_and_is_then_left_alone_for_a_while(
    fake_rasa: FakeRasa, engine: EmbeddedEngine
) -> None:
    fake_rasa.answer = lambda text: rasa_answer(text, "greet", 0.99)
    fake_rasa.delay = 1.5
    rasa = RasaEngine(fake_rasa.url, timeout=0.3, fallback=engine)
    started = time.monotonic()
    first = rasa.parse("避難所はどこ")
    second = rasa.parse("避難所はどこ")
    assert first.intent.name == second.intent.name == "shelter_search"  # the embedded engine's answer
    assert time.monotonic() - started < 1.4  # the second call did not wait for Rasa again
    assert fake_rasa.calls == 1 and rasa.fallbacks == 2


def test_nonsense_from_the_server_falls_back(fake_rasa: FakeRasa, engine: EmbeddedEngine) -> None:
    fake_rasa.answer = {"unexpected": True}
    rasa = RasaEngine(fake_rasa.url, timeout=2, fallback=engine)
    assert rasa.parse("ありがとう").intent.name == "thanks"
    assert rasa.fallbacks == 1


def test_settings_choose_the_backend(monkeypatch: pytest.MonkeyPatch, fake_rasa: FakeRasa) -> None:
    """The app's own settings (passed to the process, bot.runtime) choose the backend."""
    from bot.runtime import configure_process
    from bot.settings import Settings, load_settings
    from nlu import engine as engine_module

    fake_rasa.answer = lambda text: rasa_answer(text, "handoff", 0.9)
    monkeypatch.setenv("NLU_BACKEND", "rasa")
    monkeypatch.setenv("RASA_URL", fake_rasa.url + "/")
    embedded = engine_module.get_embedded()
    try:
        configure_process(load_settings())
        assert engine_module.get_engine().name == "rasa"
        assert engine_module.parse("こんにちは").intent.name == "handoff"
    finally:
        monkeypatch.delenv("NLU_BACKEND")
        monkeypatch.delenv("RASA_URL")
        configure_process(Settings())
        engine_module.use_engine(embedded, embedded)
    assert engine_module.get_engine().name == "embedded"
