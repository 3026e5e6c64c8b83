"""Starting and stopping the demo again (issue 17): `python3 dev.py demo` stopped by its PID stops
`madoguchi demo` with it (item 19); the first set-up prints a few lines (item 20)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(os.name != "posix", reason="signals by PID are POSIX")
def test_stopping_dev_py_by_its_pid_stops_the_command_it_runs() -> None:
    child = "import os, time; print(os.getpid(), flush=True); time.sleep(60)"
    launcher = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); import dev; "
        f"sys.exit(dev.run([sys.executable, '-c', {child!r}]))"
    )
    parent = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    try:
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child_pid), "the command dev.py ran is still running"
    finally:
        if _alive(child_pid):
            os.kill(child_pid, signal.SIGKILL)
        parent.stdout.close()


# --- item 20: the first `python3 dev.py demo` prints a few lines, not a hundred warnings -------------


def test_the_packaging_metadata_raises_no_setuptools_warning() -> None:
    """`project.license` as a TOML table is deprecated (setuptools>=77 wants an SPDX string)."""
    import warnings

    from setuptools.config.pyprojecttoml import apply_configuration  # type: ignore[import-untyped]
    from setuptools.dist import Distribution  # type: ignore[import-untyped]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert [str(w.message) for w in caught if "license" in str(w.message).lower()] == []
    assert dist.metadata.license_expression == "MIT"


def _setup_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], returncode: int
) -> tuple[list[str], list[str], int | str | None]:
    sys.path.insert(0, str(ROOT))
    try:
        import dev
    finally:
        sys.path.remove(str(ROOT))
    venv_dir = tmp_path / "venv"
    monkeypatch.setattr(dev, "VENV", venv_dir)
    monkeypatch.setattr(dev, "PYTHON", venv_dir / "bin" / "python")
    monkeypatch.setattr(dev, "STAMP", venv_dir / ".madoguchi-installed")

    def create(self: object, path: Path) -> None:
        (Path(path) / "bin").mkdir(parents=True)
        (Path(path) / "bin" / "python").touch()

    def pip(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        noise = "".join(f"WARNING: Location 'file:///x/{i}/' is ignored\n" for i in range(60))
        return subprocess.CompletedProcess(argv, returncode, "", noise + ("ERROR: no such package\n" * returncode))

    monkeypatch.setattr(dev.venv.EnvBuilder, "create", create)
    monkeypatch.setattr(dev.subprocess, "run", pip)
    code: int | str | None = None
    try:
        dev.setup()
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return out.splitlines(), err.splitlines(), code


def test_set_up_prints_a_few_lines_when_it_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err, code = _setup_output(tmp_path, monkeypatch, capsys, returncode=0)
    assert code is None and err == []
    assert 2 <= len(out) <= 4
    assert out[-1].startswith("Set-up done:")


def test_set_up_shows_what_pip_said_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _out, err, code = _setup_output(tmp_path, monkeypatch, capsys, returncode=1)
    assert "ERROR: no such package" in err
    assert isinstance(code, str) and "pip" in code


def test_a_restarted_demo_keeps_its_staff_password_and_the_sandbox_knows_its_citizens(
    database_url: str, tmp_path: Path
) -> None:
    """Item 18: restarting `madoguchi demo` with ./var kept: the same staff login, and the sandbox's
    citizens (kept in memory) are known again from the database, so their chat goes on."""
    from admin import users
    from bot.demo import demo_secrets
    from bot.seed import load_demo_data
    from tests.support import live_app, new_citizen, post_webhook, say_all, settled, wait_until

    first = demo_secrets(tmp_path)["demo_staff_password"]
    assert demo_secrets(tmp_path)["demo_staff_password"] == first  # kept in ./var
    keys: dict[str, Any] = {"secret_key": "k" * 40, "personal_data_key": ""}  # kept in ./var: the same after a restart
    with live_app(database_url, demo_mode=True, **keys) as app:
        logins = [load_demo_data(app.settings, staff_password=first) for _ in range(2)]  # two starts
        assert logins == [("demo", first), ("demo", first)]
        with app.db.session() as db_session:
            user = users.get_by_name(db_session=db_session, name="demo")
            assert user is not None and users.verify_password(user.password_hash, first)
        citizen = new_citizen(app, "牛窓 太郎")
        assert post_webhook(app, [app.sandbox.make_event("follow", citizen)]).status_code == 200  # 友だち追加
        wait_until(lambda: settled(app) and app.sandbox.deliveries(to=citizen), what="the greeting")
    with live_app(database_url, demo_mode=True, **keys) as restarted:  # the same database, a new sandbox
        known = restarted.sandbox.user(citizen)
        assert known is not None and known.display_name == "牛窓 太郎"
        assert say_all(restarted, citizen, "こんにちは")  # the chat goes on
    with live_app(database_url) as not_demo:  # only the demo restores (tests and serve start empty)
        assert not_demo.sandbox.user(citizen) is None
