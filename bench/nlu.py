"""Embedded engine vs a real Rasa server trained on the same data, in one run.

    python3 dev.py bench nlu                    # trains both from scratch, then measures
    python3 dev.py bench nlu --reuse-rasa-model # Rasa: reuse the model trained for this data

For each engine and each held-out set (nlu/data/heldout.yml, heldout2.yml): intent accuracy and
macro-F1, entity F1 (where the set annotates entities), FAQ end to end (intent `faq` and the right
entry first), parse latency p50/p99 (embedded: in-process; Rasa: HTTP
/model/parse through madoguchi's Rasa backend), peak resident memory, and training time. FAQ
retrieval itself (top-1 on the held-out FAQ questions) is the embedded retriever for both.

The embedded engine is measured in a child process of its own, so its memory figure is its own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LATENCY_ROUNDS = 5  # every held-out line this many times (after a warm-up round)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _score_file(path: Path, parse: Any, faq_ask: Any) -> dict[str, Any]:
    from nlu.evaluate import evaluate_examples
    from nlu.training_data import load

    examples = load(path).examples

    def intent_of(text: str) -> tuple[str, float]:
        result = parse(text)
        return result.intent.name, result.intent.confidence

    report = evaluate_examples(examples, intent_of, faq_ask, lambda text: parse(text).entities)
    faq_lines = [e for e in examples if e.faq_id]
    end_to_end = sum(1 for e in faq_lines if parse(e.text).intent.name == "faq" and faq_ask(e.text).faq_id == e.faq_id)
    return {
        "examples": report.total,
        "accuracy": report.accuracy,
        "macro_f1": report.macro_f1,
        "faq_top1": report.faq_top1_accuracy,
        "faq_end_to_end": end_to_end / len(faq_lines) if faq_lines else 0.0,
        "entity_f1": report.entities.f1 if report.entities else None,
    }


def _score(parse: Any, faq_ask: Any) -> dict[str, Any]:
    """Figures on each held-out set, by file name."""
    from nlu.training_data import HELDOUT_FILES

    return {"sets": {path.name: _score_file(path, parse, faq_ask) for path in HELDOUT_FILES}}


def _heldout_texts() -> list[str]:
    from nlu.training_data import HELDOUT_FILES, load

    return [e.text for path in HELDOUT_FILES for e in load(path).examples]


def _latency(parse: Any) -> dict[str, float]:
    texts = _heldout_texts()
    for text in texts:
        parse(text)
    samples = []
    for _ in range(LATENCY_ROUNDS):
        for text in texts:
            started = time.perf_counter()
            parse(text)
            samples.append(time.perf_counter() - started)
    return {
        "p50_ms": _percentile(samples, 0.50) * 1000,
        "p99_ms": _percentile(samples, 0.99) * 1000,
        "mean_ms": statistics.fmean(samples) * 1000,
        "n": len(samples),
    }


def embedded_worker() -> None:
    """Runs in its own process: train from scratch, score, time, report peak memory (JSON on stdout)."""
    import tempfile

    from nlu.embedded import EmbeddedEngine
    from nlu.faq import FaqIndex, load_seed

    cache_dir = Path(tempfile.mkdtemp())
    started = time.perf_counter()
    engine = EmbeddedEngine(cache_dir=cache_dir)  # an empty cache: trains from scratch, then saves
    engine.model  # noqa: B018 - trains
    training = time.perf_counter() - started
    index = FaqIndex.build(load_seed(), engine.analyse)
    figures = _score(engine.parse, lambda text: index.ask(text, analysis=engine.analyse(text)))
    figures["latency"] = _latency(engine.parse)
    figures["faq_latency"] = _latency(lambda text: index.ask(text, analysis=engine.analyse(text)))
    figures["training_s"] = training
    figures["model_training_s"] = engine.training_seconds
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["cache_dir"] = str(cache_dir)
    print(json.dumps(figures))


def serving_worker(cache_dir: str) -> None:
    """Runs in its own process: what a bot process holds, the model loaded from the cache (no
    scikit-learn), after parsing and FAQ retrieval over the held-out set."""
    from nlu.embedded import EmbeddedEngine
    from nlu.faq import FaqIndex, load_seed

    started = time.perf_counter()
    engine = EmbeddedEngine(cache_dir=Path(cache_dir))
    engine.parse("こんにちは")
    load_seconds = time.perf_counter() - started
    assert engine.training_seconds is None, "the model should have come from the cache"
    index = FaqIndex.build(load_seed(), engine.analyse)
    for text in _heldout_texts():
        engine.parse(text)
        index.ask(text)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"serving_rss_mb": rss, "load_s": load_seconds, "sklearn": "sklearn" in sys.modules}))


def _worker(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_embedded() -> dict[str, Any]:
    figures = _worker("--worker", "embedded")
    figures.update(_worker("--worker", "serving", "--cache-dir", figures["cache_dir"]))
    return figures


def _peak_rss(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process and its children, in MB."""
    total = 0
    pids = {pid}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            pids.update(int(c) for c in (task / "children").read_text().split())
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def measure_rasa(reuse_model: bool) -> dict[str, Any]:
    from nlu import get_embedded, rasa_env
    from nlu.faq import FaqIndex, load_seed
    from nlu.rasa_backend import RasaEngine

    try:
        rasa_env.ensure_venv(log=lambda m: print(f"  {m}", file=sys.stderr))
    except rasa_env.RasaEnvError as exc:
        return {"error": str(exc)}
    model = rasa_env.train(force=not reuse_model, log=lambda m: print(f"  {m}", file=sys.stderr))
    server = rasa_env.serve(model.path, log=lambda m: print(f"  {m}", file=sys.stderr))
    try:
        embedded = get_embedded()
        index = FaqIndex.build(load_seed(), embedded.analyse)
        rasa = RasaEngine(server.url, timeout=30, fallback=embedded)
        figures = _score(rasa.parse, index.ask)
        raw = rasa._client

        def http_parse(text: str) -> Any:
            return raw.post(f"{server.url}/model/parse", json={"text": text}).json()

        figures["latency"] = _latency(rasa.parse)
        figures["http_latency"] = _latency(http_parse)
        figures["fallbacks"] = rasa.fallbacks
        figures["training_s"] = model.seconds
        figures["training_reused"] = model.reused
        figures["server_start_s"] = server.start_seconds
        figures["peak_rss_mb"] = _peak_rss(server.process.pid)
        return figures
    finally:
        server.stop()


def table(embedded: dict[str, Any], rasa: dict[str, Any]) -> str:
    def pct(v: float | None) -> str:
        return "—" if v is None else f"{100 * v:.1f} %"

    def ms(v: float | None) -> str:
        return "—" if v is None else f"{v:.2f} ms"

    has_rasa = "error" not in rasa
    rows = []
    for name, figures in embedded["sets"].items():
        theirs = rasa.get("sets", {}).get(name, {})
        rows.extend(
            [
                (f"{name}: intent accuracy", pct(figures["accuracy"]), pct(theirs.get("accuracy"))),
                (f"{name}: macro-F1", pct(figures["macro_f1"]), pct(theirs.get("macro_f1"))),
                (f"{name}: entity F1", pct(figures["entity_f1"]), pct(theirs.get("entity_f1"))),
                (f"{name}: FAQ top-1 (embedded retriever)", pct(figures["faq_top1"]), pct(theirs.get("faq_top1"))),
                (f"{name}: FAQ end to end", pct(figures["faq_end_to_end"]), pct(theirs.get("faq_end_to_end"))),
            ]
        )
    rows += [
        ("parse latency p50", ms(embedded["latency"]["p50_ms"]), ms(rasa.get("latency", {}).get("p50_ms"))),
        ("parse latency p99", ms(embedded["latency"]["p99_ms"]), ms(rasa.get("latency", {}).get("p99_ms"))),
        ("peak RSS memory", f"{embedded['peak_rss_mb']:.0f} MB", f"{rasa['peak_rss_mb']:.0f} MB" if has_rasa else "—"),
        ("  serving RSS (cached model)", f"{embedded['serving_rss_mb']:.0f} MB", "—"),
        (
            "training time",
            f"{embedded['training_s']:.1f} s",
            (f"{rasa['training_s']:.0f} s" + (" (reused model)" if rasa.get("training_reused") else ""))
            if has_rasa
            else "—",
        ),
    ]
    width = max(len(r[0]) for r in rows) + 2
    total = sum(f["examples"] for f in embedded["sets"].values())
    lines = [f"{'':<{width}}{'embedded':>18}{'Rasa 3.6.21':>26}"]
    lines.extend(f"{name:<{width}}{a:>18}{b:>26}" for name, a, b in rows)
    lines.append("")
    lines.append(
        f"examples: {total} held-out lines; latency over {embedded['latency']['n']} parses each "
        f"(Rasa: HTTP on 127.0.0.1, raw /model/parse p50 {ms(rasa.get('http_latency', {}).get('p50_ms'))})"
    )
    lines.append(
        f"embedded FAQ ask p50 {ms(embedded['faq_latency']['p50_ms'])}, p99 {ms(embedded['faq_latency']['p99_ms'])}; "
        f"a bot process loads the cached model in {embedded['load_s']:.1f} s (scikit-learn not imported: "
        f"{not embedded['sklearn']}); peak RSS includes training"
    )
    if has_rasa:
        speed = rasa["latency"]["p50_ms"] / embedded["latency"]["p50_ms"]
        lines.append(
            f"embedded is {speed:.0f}x faster at p50; Rasa server start {rasa['server_start_s']:.0f} s; "
            f"Rasa fallbacks during the run: {rasa['fallbacks']}"
        )
    else:
        lines.append(f"Rasa not measured: {rasa['error']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=["embedded", "serving"], help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    parser.add_argument(
        "--reuse-rasa-model", action="store_true", help="do not retrain Rasa if a model for this data exists"
    )
    parser.add_argument("--skip-rasa", action="store_true", help="measure the embedded engine only")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = parser.parse_args()
    if args.worker == "embedded":
        embedded_worker()
        return
    if args.worker == "serving":
        serving_worker(args.cache_dir)
        return
    print("measuring the embedded engine (own process) ...", file=sys.stderr)
    embedded = measure_embedded()
    if args.skip_rasa:
        rasa: dict[str, Any] = {"error": "skipped (--skip-rasa)"}
    else:
        print("measuring Rasa (its own virtualenv and server) ...", file=sys.stderr)
        rasa = measure_rasa(args.reuse_rasa_model)
    print(table(embedded, rasa))
    if args.json:
        print(json.dumps({"embedded": embedded, "rasa": rasa}, indent=2))


if __name__ == "__main__":
    main()
