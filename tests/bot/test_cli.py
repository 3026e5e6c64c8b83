"""The `madoguchi` command as a person runs it: real subprocesses, real output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import free_port

MADOGUCHI = str(Path(sys.executable).parent / "madoguchi")
LINE_VARS = ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "PUBLIC_BASE_URL", "SECRET_KEY")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LINE_VARS and not k.startswith("MADOGUCHI_")}
    env.update(extra)
    return env


def test_serve_without_line_credentials_says_why_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [MADOGUCHI, "serve"],
        env=clean_env(DATABASE_URL=f"sqlite:///{tmp_path}/x.db"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == "Error: LINE_CHANNEL_SECRET is not set (LINE Developers console > Basic settings)."
    assert "Traceback" not in result.stderr + result.stdout


def test_an_invalid_setting_is_one_line_too(tmp_path: Path) -> None:
    result = subprocess.run(
        [MADOGUCHI, "serve"], env=clean_env(INBOX_BATCH_SIZE="many"), capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "INBOX_BATCH_SIZE" in result.stderr


def test_serve_refuses_a_plain_http_public_url(tmp_path: Path) -> None:
    env = clean_env(
        LINE_CHANNEL_SECRET="s",
        LINE_CHANNEL_ACCESS_TOKEN="t",
        PUBLIC_BASE_URL="http://city.example.jp",
        SECRET_KEY="k" * 40,
    )
    result = subprocess.run([MADOGUCHI, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "PUBLIC_BASE_URL must start with https://" in result.stderr


def test_on_sqlite_serve_and_worker_refuse_extra_processes_in_one_line(tmp_path: Path) -> None:
    env = clean_env(
        LINE_CHANNEL_SECRET="s",
        LINE_CHANNEL_ACCESS_TOKEN="t",
        PUBLIC_BASE_URL="https://city.example.jp",
        SECRET_KEY="k" * 40,
        DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
    )
    for command in (["serve", "--workers", "2"], ["worker"]):
        result = subprocess.run([MADOGUCHI, *command], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert len(result.stderr.strip().splitlines()) == 1
        assert "SQLite has one writer" in result.stderr and "PostgreSQL" in result.stderr


def test_db_upgrade_needs_no_line_credentials(tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path}/fresh.db")
    result = subprocess.run([MADOGUCHI, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.search(r"database at revision [0-9a-z_, ]+", result.stdout)
    assert (tmp_path / "fresh.db").exists()


def test_demo_prints_its_addresses_and_login_and_serves_everything(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [MADOGUCHI, "demo", "--port", str(port), "--var-dir", str(tmp_path / "var")],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while not any("Stop with Ctrl+C" in line for line in lines):
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "".join(lines)
            lines.append(line)
            assert time.monotonic() < deadline, "".join(lines)
        output = "".join(lines)
        base = f"http://127.0.0.1:{port}"
        assert f"LINE sandbox chat : {base}/sandbox" in output
        assert f"Staff admin       : {base}/admin" in output
        login = re.search(r"Demo staff login  : (\S+) / (\S+)", output)
        assert login is not None, output
        assert httpx.get(f"{base}/sandbox").status_code == 200
        assert httpx.get(f"{base}/healthz").json()["database"] == "ok"
        # The rich menu is deployed to the sandbox before the banner is printed.
        menu = httpx.get(f"{base}/sandbox/api/richmenu").json()
        assert menu["richMenu"]["chatBarText"] == "メニュー"
        # The printed login works.
        with httpx.Client(base_url=base, follow_redirects=True) as browser:
            form = browser.get("/admin/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token is not None
            page = browser.post("/admin/login", data={"name": login[1], "password": login[2], "csrf_token": token[1]})
            assert page.status_code == 200 and "ダッシュボード" in page.text
        assert (tmp_path / "var" / "demo.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def recorded_login_addresses(tmp_path: Path, trusted: str | None) -> list[str]:
    """Runs `madoguchi serve`, fails a staff login through a claimed proxy header, and answers the
    addresses the login throttling recorded."""
    from sqlalchemy import create_engine, text

    database_url = f"sqlite:///{tmp_path}/serve.db"
    env = clean_env(
        LINE_CHANNEL_SECRET="s",
        LINE_CHANNEL_ACCESS_TOKEN="t",
        PUBLIC_BASE_URL="https://city.example.jp",
        SECRET_KEY="k" * 40,
        DATABASE_URL=database_url,
        LOG_LEVEL="WARNING",
    )
    if trusted is not None:
        env["FORWARDED_ALLOW_IPS"] = trusted
    subprocess.run([MADOGUCHI, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    proc = subprocess.Popen(
        [MADOGUCHI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=base, headers={"X-Forwarded-For": "203.0.113.9"}) as client:
            form = client.get("/admin/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token is not None
            # The session cookie is Secure (production serves HTTPS behind the proxy): send it by hand.
            cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
            client.cookies.clear()
            answer = client.post(
                "/admin/login",
                headers={"Cookie": cookie},
                data={"name": "nobody", "password": "wrong", "csrf_token": token[1]},
            )
            assert answer.status_code == 401, answer.text[:200]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT ip FROM login_attempts"))]
    finally:
        engine.dispose()


def test_serve_believes_forwarded_addresses_only_from_the_proxies_it_is_told_of(tmp_path: Path) -> None:
    # By default the proxy is on this host (127.0.0.1): its X-Forwarded-For is believed.
    assert recorded_login_addresses(tmp_path / "a", trusted=None) == ["203.0.113.9"]
    # Another proxy is configured: a client here cannot choose the address that is counted.
    assert recorded_login_addresses(tmp_path / "b", trusted="10.0.0.5") == ["127.0.0.1"]


def test_a_command_that_needs_the_database_says_what_to_run_first(tmp_path: Path) -> None:
    """`madoguchi gis nearest` without a database used to print a SQLAlchemy traceback."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    for args in (["gis", "nearest", "--lat", "34.62", "--lon", "134.15"], ["garbage", "remind"]):
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 1
        assert "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines() == [
            "Error: The database has no tables yet. Run `madoguchi db upgrade` first "
            "(and `madoguchi gis import --demo` / `madoguchi garbage import FILE` to load data)."
        ]


def test_a_database_at_an_older_revision_says_to_upgrade_in_one_line(tmp_path: Path) -> None:
    """A database migrated before the map tables existed used to print a SQLAlchemy traceback."""
    env = {**clean_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}"}
    upgrade = [sys.executable, "-m", "bot.cli", "db", "upgrade", "--revision", "0003"]
    subprocess.run(upgrade, env=env, capture_output=True, check=True, timeout=120)
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "gis", "nearest", "--lat", "34.62", "--lon", "134.15"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: The database is at an older version (0003). Run `madoguchi db upgrade` first."
    ]
