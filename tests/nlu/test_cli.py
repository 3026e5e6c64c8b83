"""The command line: `madoguchi nlu parse` (one text or --jsonl) and `madoguchi faq ask`, as a
citizen-data script would call them, in a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MADOGUCHI = [sys.executable, "-c", "from bot.cli import main; main()"]


def run(*args: str, stdin: str | None = None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # The trained model cached by the rest of the suite (var/nlu), and a database of our own.
        "NLU_CACHE_DIR": str(ROOT / "var" / "nlu"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }
    return subprocess.run(
        [*MADOGUCHI, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False
    )


def test_parse_prints_one_json_object_in_rasa_format(tmp_path: Path) -> None:
    done = run(
        "nlu", "parse", "明日の午後2時に予約したい", "--reference-time", "2026-11-24T10:00:00+09:00", tmp_path=tmp_path
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert set(answer) == {"text", "intent", "intent_ranking", "entities"}
    assert answer["intent"]["name"] == "reservation_make"
    assert {(e["entity"], e["value"]) for e in answer["entities"]} == {("date", "2026-11-25"), ("time", "14:00")}


def test_parse_jsonl_answers_every_line_in_one_process(tmp_path: Path) -> None:
    lines = ["予約したい", "", "😀", "避難所はどこ", "スマホ教室に申し込みたい"] * 200
    started = time.monotonic()
    done = run("nlu", "parse", "--jsonl", stdin="\n".join(lines) + "\n", tmp_path=tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["text"] for a in answers] == lines
    assert [a["intent"]["name"] for a in answers[:5]] == [
        "reservation_make",
        "out_of_scope",
        "out_of_scope",
        "shelter_search",
        "class_signup",
    ]
    assert elapsed < 60  # a thousand lines: one start-up, then milliseconds each


def test_parse_rejects_a_bad_reference_time(tmp_path: Path) -> None:
    done = run("nlu", "parse", "明日", "--reference-time", "yesterday-ish", tmp_path=tmp_path)
    assert done.returncode != 0
    assert "ISO 8601" in done.stderr


def test_faq_ask_and_jsonl_from_the_seed(tmp_path: Path) -> None:
    done = run("faq", "ask", "--source", "seed", "粗大ごみを出したい", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert set(answer) == {"text", "faq_id", "score", "candidates"}
    assert answer["faq_id"] == "sodai_gomi"
    assert all(set(c) == {"faq_id", "score"} for c in answer["candidates"])

    done = run(
        "faq", "ask", "--jsonl", "--source", "seed", stdin="印鑑証明がほしい\nハザードマップ\n\n", tmp_path=tmp_path
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["faq_id"] for a in answers] == ["inkan_shomei", "hazard_map", None]


def test_faq_import_then_ask_from_the_database(tmp_path: Path) -> None:
    from bot.migrate import upgrade

    upgrade(f"sqlite:///{tmp_path / 'cli.db'}")
    done = run("faq", "import", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "40 FAQ entries written" in done.stdout
    assert "0 FAQ entries written" in run("faq", "import", tmp_path=tmp_path).stdout  # idempotent
    done = run("faq", "ask", "--source", "db", "マイナンバーカードの暗証番号を忘れた", tmp_path=tmp_path)
    assert json.loads(done.stdout)["faq_id"] == "mynumber_pin_reset"


def test_evaluate_prints_the_figures(tmp_path: Path) -> None:
    done = run("nlu", "evaluate", "--json", str(ROOT / "nlu" / "data" / "heldout.yml"), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    figures = next(iter(json.loads(done.stdout).values()))
    assert figures["accuracy"] >= 0.95
    assert {"macro_f1", "per_intent", "worst_confusions", "faq_top1"} <= set(figures)
