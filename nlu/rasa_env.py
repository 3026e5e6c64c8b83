"""A real Rasa Open Source 3.6.21 on this Python 3.11: build its virtualenv, train on nlu/, serve.

Rasa 3.6 declares Python < 3.11, so it is installed from a pinned working set with `--no-deps
--ignore-requires-python` (nlu/rasa/requirements-rasa-py311.txt; about 2.7 GB, a minute or two)
into its own virtualenv outside the clone: $MADOGUCHI_RASA_VENV, by default
~/.cache/madoguchi/rasa-venv. It is built once and reused while the pinned list is unchanged.

Training and serving run in a scratch project directory holding a copy of nlu/config.yml, the
training data and the custom components (nlu/rasa_components), which is put on PYTHONPATH. HOME
points into it (Rasa writes ~/.config, ~/.keras) and telemetry is off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

NLU_DIR = Path(__file__).resolve().parent
REQUIREMENTS = NLU_DIR / "rasa" / "requirements-rasa-py311.txt"
CONFIG = NLU_DIR / "config.yml"
TRAINING_DATA = NLU_DIR / "data" / "nlu.yml"
COMPONENTS = NLU_DIR / "rasa_components"
MARKER = ".madoguchi-rasa-env"

Log = Callable[[str], None]


class RasaEnvError(Exception):
    """The Rasa environment cannot be built or run here; the message says why."""


def _print(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "madoguchi"


def venv_dir() -> Path:
    return Path(os.environ.get("MADOGUCHI_RASA_VENV") or cache_root() / "rasa-venv")


def work_dir() -> Path:
    return Path(os.environ.get("MADOGUCHI_RASA_WORKDIR") or cache_root() / "rasa-work")


def _requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def rasa_executable(venv: Path | None = None) -> Path:
    return (venv or venv_dir()) / "bin" / "rasa"


def is_ready(venv: Path | None = None) -> bool:
    venv = venv or venv_dir()
    marker = venv / MARKER
    return marker.exists() and marker.read_text().strip() == _requirements_hash() and rasa_executable(venv).exists()


def _python311() -> str:
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if found is None:
        raise RasaEnvError("Rasa 3.6 needs Python 3.11 (no python3.11 found on PATH)")
    return found


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """One builder at a time (two test runs may start together)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_venv(log: Log = _print) -> Path:
    """The Rasa virtualenv, built if missing or made from another pinned list."""
    venv = venv_dir()
    if is_ready(venv):
        return venv
    with _exclusive(venv.parent / (venv.name + ".lock")):
        if is_ready(venv):
            return venv
        if venv.exists():
            shutil.rmtree(venv)
        log(f"building the Rasa environment in {venv} (about 2.7 GB, a minute or two) ...")
        started = time.monotonic()
        try:
            subprocess.run([_python311(), "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
            subprocess.run(
                [
                    str(venv / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "--ignore-requires-python",
                    "-r",
                    str(REQUIREMENTS),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        except subprocess.CalledProcessError as exc:
            shutil.rmtree(venv, ignore_errors=True)
            detail = (exc.stderr or exc.stdout or "").strip().splitlines()
            raise RasaEnvError(f"could not build the Rasa environment: {' | '.join(detail[-3:])}") from None
        (venv / MARKER).write_text(_requirements_hash())
        log(f"Rasa environment ready in {time.monotonic() - started:.0f} s")
    return venv


def data_hash() -> str:
    digest = hashlib.sha256()
    for path in (CONFIG, TRAINING_DATA, *sorted(COMPONENTS.glob("*.py"))):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _project(work: Path) -> Path:
    """A scratch Rasa project: config, data and components copied from the repo."""
    project = work / "project"
    if project.exists():
        shutil.rmtree(project)
    (project / "data").mkdir(parents=True)
    shutil.copy(CONFIG, project / "config.yml")
    shutil.copy(TRAINING_DATA, project / "data" / "nlu.yml")
    shutil.copytree(COMPONENTS, project / "rasa_components", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "home").mkdir()
    return project


def _environment(project: Path) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "LANG", "LC_ALL", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    return {
        **keep,
        "HOME": str(project / "home"),
        "PYTHONPATH": str(project),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONWARNINGS": "ignore",
        "MPLCONFIGDIR": str(project / "home" / "mpl"),
    }


@dataclass(frozen=True)
class TrainedModel:
    path: Path
    seconds: float
    reused: bool


def model_path(out_dir: Path | None = None) -> Path:
    return (out_dir or work_dir() / "models") / f"madoguchi-nlu-{data_hash()}.tar.gz"


def train(*, out_dir: Path | None = None, force: bool = False, log: Log = _print) -> TrainedModel:
    """Trains a Rasa NLU model on nlu/data/nlu.yml with nlu/config.yml (reused if already trained)."""
    venv = ensure_venv(log)
    target = model_path(out_dir)
    timing = target.with_suffix(".seconds")
    if target.exists() and not force:
        seconds = float(timing.read_text()) if timing.exists() else 0.0
        return TrainedModel(target, seconds, reused=True)
    work = work_dir()
    with _exclusive(work / "train.lock"):
        project = _project(work / "train")
        target.parent.mkdir(parents=True, exist_ok=True)
        log(f"training a Rasa model on {TRAINING_DATA.name} ...")
        started = time.monotonic()
        result = subprocess.run(
            [
                str(rasa_executable(venv)),
                "train",
                "nlu",
                "--config",
                "config.yml",
                "--nlu",
                "data/nlu.yml",
                "--out",
                str(target.parent),
                "--fixed-model-name",
                target.name.removesuffix(".tar.gz"),
            ],
            cwd=project,
            env=_environment(project),
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        if result.returncode != 0 or not target.exists():
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise RasaEnvError("rasa train failed: " + " | ".join(tail))
        timing.write_text(f"{seconds:.1f}")
        log(f"Rasa model trained in {seconds:.0f} s: {target}")
    return TrainedModel(target, seconds, reused=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RasaServer:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    start_seconds: float
    work: Path | None = None

    def rss_bytes(self) -> int:
        """Resident memory of the server process and its children (Linux /proc)."""
        return _rss_tree(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self.work is not None:
            # The scratch project (and its log) of a server that stopped on request.
            shutil.rmtree(self.work, ignore_errors=True)
            self.work = None


def _rss_tree(pid: int) -> int:
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task").iterdir():
            children = (child / "children").read_text().split()
            pids.extend(int(c) for c in children)
    for p in set(pids):
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def serve(model: Path, *, port: int | None = None, timeout: float = 180.0, log: Log = _print) -> RasaServer:
    """Starts `rasa run --enable-api` on 127.0.0.1 and waits until /model/parse answers."""
    venv = ensure_venv(log)
    port = port or free_port()
    work = work_dir() / f"serve-{port}"
    project = _project(work)
    log_path = work / "rasa.log"
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [
                str(rasa_executable(venv)),
                "run",
                "--enable-api",
                "--model",
                str(model),
                "--interface",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=project,
            env=_environment(project),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RasaServer(process, url, log_path, 0.0, work)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            shutil.rmtree(work, ignore_errors=True)
            raise RasaEnvError("rasa run exited: " + " | ".join(tail))
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.post(f"{url}/model/parse", json={"text": "こんにちは"}, timeout=5)
            if response.status_code == 200 and "intent" in response.json():
                server.start_seconds = time.monotonic() - started
                log(f"Rasa server up at {url} in {server.start_seconds:.0f} s")
                return server
        time.sleep(0.5)
    tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
    server.stop()
    raise RasaEnvError(f"rasa run did not answer within {timeout:.0f} s: " + " | ".join(tail))
