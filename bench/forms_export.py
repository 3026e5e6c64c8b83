"""申請・通報 export benchmark: a form's 50,000 cases to CSV and XLSX, time and memory.

On a fresh migrated database (a temporary SQLite file; with --database-url, also a fresh database on
that PostgreSQL server), fills in N cases of the demo report 「有害鳥獣の目撃・捕獲報告」 (two versions:
the second relabels a question, drops one and adds one, so the export has the union of both), with
realistic encrypted answers, a place for 60 % of them and 1-3 photos for a third. Then, for each
format:

1. the export function (handlers/forms/export.py: stream_csv / write_xlsx) from a database session
   to a temporary file: rows, seconds, rows/s, output size, and the memory it took: the peak resident
   set above where it started (Linux: VmHWM after resetting it), and in a second, traced run the
   Python heap's peak (tracemalloc; that run is slower and not timed);
2. the same over HTTP: GET /api/v1/forms/wildlife/export.{csv,xlsx} with a staff token against the
   whole app on a local port (uvicorn), timed to the last byte received.

    python3 dev.py bench forms_export [--rows 50000] [--database-url postgresql://user@host:5432/db] [--only sqlite]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import random
import resource
import secrets
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
import uvicorn  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bot import clock  # noqa: E402
from bot import personal_data as crypto  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from handlers.forms import export  # noqa: E402
from handlers.forms import service as forms_service  # noqa: E402
from handlers.forms.definition import FormDefinition, Question  # noqa: E402
from handlers.forms.models import CaseEvent, CaseEventKind, FormVersion, Photo, PhotoStatus, Submission  # noqa: E402

START = datetime(2026, 12, 1, 10, 0, tzinfo=clock.TOKYO)
FORM = "wildlife"
ANIMALS = ["イノシシ"] * 6 + ["シカ"] * 2 + ["サル", "ハクビシン", "アライグマ", "その他"]
PLACES = [
    "邑久町尾張",
    "邑久町山田庄",
    "長船町土師",
    "長船町福岡",
    "牛窓町牛窓",
    "牛窓町長浜",
    "邑久町豊原",
    "長船町磯上",
]
DAMAGE = [
    "",
    "畑の芋を掘り返された。",
    "田んぼのあぜが崩されている。",
    "柵の下をくぐって入ったようです。\n夜に何度も来ています。",
    '=HYPERLINK("http://example.com")',  # what a citizen may type; exported as text
    "家の裏の竹やぶで見かけました。子どもの通学路の近くなので心配です。",
]
STATUSES = ["受付", "確認中", "対応中", "完了"]
INSERT_BATCH = 2000


def fresh_database(url: str | None, workdir: Path) -> str:
    """A migrated database: a SQLite file in workdir, or a new database on the server `url` names."""
    if url is None:
        target = f"sqlite:///{workdir / 'forms-bench.db'}"
    else:
        name = f"madoguchi_bench_forms_{os.getpid()}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        target = url.rsplit("/", 1)[0] + "/" + name
    upgrade(target)
    return target


def drop_database(server_url: str, url: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')  # type: ignore[arg-type]


def versions(db: Database) -> tuple[FormVersion, FormVersion]:
    """The demo form, then a second version of it (「動物」 relabelled, 「被害」 dropped, 「備考」 added)."""
    with db.session() as db_session:
        forms_service.seed(db_session=db_session)
        form = forms_service.get_form(db_session=db_session, key=FORM)
        assert form is not None
        first = forms_service.current_version(db_session=db_session, form=form)
        assert first is not None
        definition = forms_service.definition_of(first)
        questions = [
            q.model_copy(update={"label": "動物の種類"}) if q.key == "animal" else q
            for q in definition.questions
            if q.key != "damage"
        ]
        questions.append(
            Question(key="notes", kind="short_text", label="備考", text="ほかに何かありますか？", required=False)
        )
        _, second = forms_service.publish(
            db_session=db_session,
            key=FORM,
            definition=FormDefinition.model_validate({**definition.model_dump(), "questions": questions}),
            by="bench",
        )
        return first, second


def answers(rng: random.Random, version: int, seen: datetime) -> dict[str, str]:
    group = rng.random() < 0.3
    values = {
        "animal": rng.choice(ANIMALS),
        "seen_on": (seen - timedelta(days=rng.randrange(3))).date().isoformat(),
        "group": "群れ" if group else "1頭",
        "captured": "はい" if rng.random() < 0.2 else "いいえ",
    }
    if group:
        values["count"] = str(rng.randrange(2, 15))
    if version == 1:
        damage = rng.choice(DAMAGE)
        if damage:
            values["damage"] = damage
    elif rng.random() < 0.4:
        values["notes"] = rng.choice(["夜に見た", "朝方に2回目撃", "近所の人も見ています", "-"])
    return values


def fill(db: Database, settings: Settings, rows: int, first: FormVersion, second: FormVersion) -> None:
    """N cases in bulk (what service.submit writes, without its one-at-a-time round trips)."""
    rng = random.Random(42)
    fake_photo = crypto.encrypt(base64.b64encode(b"\x89PNG" + bytes(64)).decode(), settings)
    next_id = 1
    while next_id <= rows:
        count = min(INSERT_BATCH, rows - next_id + 1)
        cases: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        photos: list[dict[str, Any]] = []
        for case_id in range(next_id, next_id + count):
            at = START - timedelta(minutes=(rows - case_id) * 10)  # 50,000 cases: about a year, oldest first
            version = first if case_id <= rows // 2 else second
            placed = rng.random() < 0.6
            user = f"U{case_id:032x}"
            status = rng.choice(STATUSES)
            cases.append(
                {
                    "id": case_id,
                    "receipt_no": forms_service.receipt_number(case_id, at),
                    "form_id": version.form_id,
                    "version_id": version.id,
                    "line_user_id": user,
                    "anonymous": False,
                    "status": status,
                    "department": "農林水産課",
                    "answers_enc": crypto.encrypt_json(answers(rng, version.number, at), settings),
                    "place_lat": 34.62 + rng.random() * 0.1 if placed else None,
                    "place_lng": 134.03 + rng.random() * 0.15 if placed else None,
                    "place_name": rng.choice(PLACES) if placed else None,
                    "submitted_at": at,
                    "updated_at": at,
                    "due_at": at + timedelta(days=3),
                    "closed_at": at + timedelta(days=2) if status == "完了" else None,
                    "nonce": uuid.uuid4().hex,
                }
            )
            events.append(
                {"submission_id": case_id, "at": at, "kind": CaseEventKind.SUBMITTED, "actor": "市民", "text_enc": None}
            )
            for _ in range(rng.choice([0, 0, 1, 2, 3]) if rng.random() < 0.5 else 0):
                photos.append(
                    {
                        "token": secrets.token_urlsafe(24),
                        "line_user_id": user,
                        "submission_id": case_id,
                        "question": "photo",
                        "status": PhotoStatus.STORED,
                        "media_type": "image/png",
                        "size": 68,
                        "data_enc": fake_photo,
                        "thumb_enc": fake_photo,
                        "fetch_attempts": 1,
                        "received_at": at,
                    }
                )
        with db.session() as db_session:
            db_session.execute(insert(Submission), cases)
            db_session.execute(insert(CaseEvent), events)
            if photos:
                db_session.execute(insert(Photo), photos)
        next_id += count
    if db.dialect == "postgresql":  # ids given by hand: the sequence must follow
        with db.session() as db_session:
            db_session.connection().exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('form_submissions', 'id'), "
                "(SELECT max(id) FROM form_submissions))"
            )


# Memory ---------------------------------------------------------------------------------------------


def _status_kib(field: str) -> int | None:
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets VmHWM (the peak resident set) to the current one."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def measured(work: Callable[[], int]) -> tuple[int, float, float]:
    """Runs it; (rows, seconds, MiB of resident memory added at the peak)."""
    exact = reset_peak_rss()
    before = _status_kib("VmRSS") if exact else None
    max_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    rows = work()
    took = time.perf_counter() - started
    if exact and before is not None:
        peak = (_status_kib("VmHWM") or 0) - before
    else:  # ru_maxrss only grows: a delta of 0 means "no more than the process's earlier peak"
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - max_before
    return rows, took, peak / 1024


def traced_peak(work: Callable[[], int]) -> float:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# The exports -----------------------------------------------------------------------------------------


def export_to(db: Database, settings: Settings, fmt: str, target: IO[bytes]) -> int:
    case_filter = forms_service.CaseFilter(form_key=FORM)
    with db.session() as db_session:
        if fmt == "xlsx":
            return export.write_xlsx(db_session=db_session, case_filter=case_filter, settings=settings, target=target)
        rows = -1  # the header
        for chunk in export.stream_csv(db_session=db_session, case_filter=case_filter, settings=settings):
            target.write(chunk)
            rows += chunk.count(b"\r\n")  # exact here: no answer of this form has a CR in it
        return rows


@contextlib.contextmanager
def served(settings: Settings, port: int) -> Iterator[None]:
    from bot.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def staff_token(db: Database) -> str:
    from admin.models import Actor
    from admin.service import create_token_for, create_user

    with db.session() as db_session:
        create_user(
            db_session=db_session,
            name="bench",
            role="counter",
            password=secrets.token_urlsafe(16),
            actor=Actor.system(),
        )
    with db.session() as db_session:
        return create_token_for(db_session=db_session, name="bench", label="bench", actor=Actor.system())


def over_http(base_url: str, token: str, fmt: str) -> tuple[float, float, int]:
    """(seconds to the first byte, seconds to the last, bytes) for one download."""
    started = time.perf_counter()
    first = 0.0
    size = 0
    with (
        httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=600) as client,
        client.stream("GET", f"/api/v1/forms/{FORM}/export.{fmt}") as response,
    ):
        response.raise_for_status()
        for chunk in response.iter_bytes():
            if not size:
                first = time.perf_counter() - started
            size += len(chunk)
    return first, time.perf_counter() - started, size


def run(backend: str, url: str, rows: int) -> None:
    settings = load_settings(database_url=url, secret_key="b" * 40, personal_data_key="")
    db = Database(url)
    try:
        started = time.perf_counter()
        first, second = versions(db)
        fill(db, settings, rows, first, second)
        print(f"{backend}: {rows:,} cases written in {time.perf_counter() - started:.1f} s")
        for fmt in ("csv", "xlsx"):
            with tempfile.TemporaryFile() as target:
                count, took, rss = measured(lambda: export_to(db, settings, fmt, target))  # noqa: B023
                size = target.tell()
            with tempfile.TemporaryFile() as target:
                heap = traced_peak(lambda: export_to(db, settings, fmt, target))  # noqa: B023
            print(
                f"  {fmt:4s} function  {count:,} rows in {took:6.2f} s = {count / took:8,.0f} rows/s | "
                f"{size / 2**20:6.1f} MiB | peak RSS +{rss:5.1f} MiB | tracemalloc peak {heap:5.1f} MiB"
            )
        port = free_port()
        http_settings = load_settings(
            database_url=url,
            secret_key="b" * 40,
            personal_data_key="",
            public_base_url=f"http://127.0.0.1:{port}",
            sandbox_enabled=True,
            line_channel_secret="bench",
            line_channel_access_token="bench",
            line_api_base_url=f"http://127.0.0.1:{port}/sandbox/line",
            line_data_api_base_url=f"http://127.0.0.1:{port}/sandbox/line",
            demo_mode=False,
        )
        token = staff_token(db)
        with served(http_settings, port):
            for fmt in ("csv", "xlsx"):
                ttfb, took, size = over_http(f"http://127.0.0.1:{port}", token, fmt)
                print(
                    f"  {fmt:4s} HTTP      {rows:,} rows in {took:6.2f} s = {rows / took:8,.0f} rows/s | "
                    f"{size / 2**20:6.1f} MiB | first byte after {ttfb:.2f} s (written to a file first)"
                )
    finally:
        db.dispose()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--database-url", help="a PostgreSQL server (a fresh database is made on it and dropped)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    clock.travel_to(START)
    print(f"machine: {os.cpu_count()} CPU(s); python {sys.version.split()[0]}")
    backends = [b for b in ("sqlite", "postgresql") if args.only in (None, b)]
    for backend in backends:
        if backend == "postgresql" and not args.database_url:
            print("postgresql: SKIPPED (no --database-url)")
            continue
        with tempfile.TemporaryDirectory(prefix="madoguchi-forms-bench-") as workdir:
            url = fresh_database(args.database_url if backend == "postgresql" else None, Path(workdir))
            try:
                run(backend, url, args.rows)
            finally:
                if backend == "postgresql":
                    drop_database(args.database_url, url)


if __name__ == "__main__":
    main()
