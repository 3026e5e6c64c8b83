"""What the database benchmarks share: work run by several threads that start at the same moment."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def run_together(threads: int, work: Callable[[int], None]) -> float:
    """Runs `work(0)` … `work(threads - 1)`, each in its own thread, all released at once; answers
    the seconds from the release to the last one's end, and raises the first error any of them hit."""
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        barrier.wait()
        try:
            work(n)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed
