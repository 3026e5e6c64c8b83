"""`madoguchi serve --workers N` keeps its N worker processes running.

A watcher thread reaps a worker that exits (no `<defunct>` left behind), logs how it ended, and
starts a new one after a backoff that grows while workers keep dying soon after they start
(1, 2, 5, 10, 30 s; back to 1 s once a worker has run for a minute). Stopping terminates them all.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

RESTART_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
# A worker that ran this long was healthy: the next restart starts the backoff over.
STABLE_SECONDS = 60.0
WATCH_SECONDS = 0.5


@dataclass
class _Slot:
    number: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0  # exits in a row, each soon after its start
    restart_at: float | None = None


class WorkerSupervisor:
    def __init__(
        self,
        command: Sequence[str],
        count: int,
        *,
        start: Callable[[Sequence[str]], subprocess.Popen[bytes]] | None = None,
        backoff: Sequence[float] = RESTART_BACKOFF,
    ) -> None:
        self._command = list(command)
        self._start = start or (lambda cmd: subprocess.Popen(cmd))
        self._backoff = tuple(backoff)
        self._slots = [_Slot(number) for number in range(1, count + 1)]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        for slot in self._slots:
            self._launch(slot)
        self._watcher = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)
        self._watcher.start()

    def pids(self) -> list[int]:
        with self._lock:
            return [slot.process.pid for slot in self._slots if slot.process is not None]

    def stop(self, timeout: float = 15.0) -> None:
        """Terminates every worker (SIGTERM: each finishes what it sends), then kills stragglers."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        with self._lock:
            processes = [slot.process for slot in self._slots if slot.process is not None]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _launch(self, slot: _Slot) -> None:
        process = self._start(self._command)
        with self._lock:
            slot.process, slot.started, slot.restart_at = process, time.monotonic(), None
        log.info("worker %d started (pid %d)", slot.number, process.pid)

    def _watch(self) -> None:
        # Restarted workers are started from this thread, which lives as long as the supervisor: a
        # worker asks the kernel to stop it when the thread that started it ends (PR_SET_PDEATHSIG).
        while not self._stopping.wait(WATCH_SECONDS):
            for slot in self._slots:
                try:
                    self._look_after(slot)
                except Exception:  # a failed start is tried again at the next backoff step
                    log.exception("starting worker %d failed", slot.number)
                    slot.failures += 1
                    slot.restart_at = time.monotonic() + self._delay(slot)

    def _look_after(self, slot: _Slot) -> None:
        now = time.monotonic()
        if slot.restart_at is not None:
            if now >= slot.restart_at and not self._stopping.is_set():
                self._launch(slot)
            return
        process = slot.process
        if process is None:
            return
        code = process.poll()  # reaps it: no zombie stays behind
        if code is None or self._stopping.is_set():
            return
        slot.failures = 0 if now - slot.started >= STABLE_SECONDS else slot.failures + 1
        delay = self._delay(slot)
        slot.restart_at = now + delay
        log.error(
            "worker %d (pid %d) %s after %.0f s; starting another in %.0f s",
            slot.number,
            process.pid,
            _how_it_ended(code),
            now - slot.started,
            delay,
        )

    def _delay(self, slot: _Slot) -> float:
        return self._backoff[min(max(slot.failures - 1, 0), len(self._backoff) - 1)]


def _how_it_ended(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with code {code}"
