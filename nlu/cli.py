"""`madoguchi nlu ...`: parse text, evaluate the engine, train it, and run a real Rasa on the same data."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from nlu.training_data import HELDOUT_FILES


def _reference_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 date-time: {value!r}", param_hint="--reference-time") from None
    if moment.tzinfo is None:
        from nlu.dates import TOKYO

        moment = moment.replace(tzinfo=TOKYO)
    return moment


def _dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


@click.group("nlu")
def nlu_group() -> None:
    """Japanese understanding: parse, evaluate, train; Rasa on the same data."""


@nlu_group.command("parse")
@click.argument("text", required=False)
@click.option("--reference-time", help="ISO 8601; dates like 明日 are resolved against it (default: now, Asia/Tokyo).")
@click.option("--jsonl", is_flag=True, help="Read one text per line on stdin; write one JSON object per line.")
def parse_command(text: str | None, reference_time: str | None, jsonl: bool) -> None:
    """Parse TEXT and print Rasa's parse format as JSON."""
    from nlu import parse

    moment = _reference_time(reference_time)
    if jsonl:
        out = sys.stdout
        for line in sys.stdin:
            out.write(_dump(parse(line.rstrip("\r\n"), moment).to_rasa()) + "\n")
        out.flush()
        return
    if text is None:
        raise click.UsageError("give TEXT, or --jsonl to read lines from stdin")
    click.echo(_dump(parse(text, moment).to_rasa()))


@nlu_group.command("train")
@click.option("--force", is_flag=True, help="Retrain even if a cached model for this data exists.")
def train_command(force: bool) -> None:
    """Train the embedded engine on nlu/data/nlu.yml and cache the model."""
    from nlu import get_embedded

    engine = get_embedded()
    started = time.perf_counter()
    if force:
        engine.retrain()
    else:
        _ = engine.model
    seconds = time.perf_counter() - started
    what = "trained" if engine.training_seconds is not None else "loaded from cache"
    click.echo(f"model {what} in {seconds:.1f} s: {engine.model_path}")
    click.echo(f"{len(engine.data.examples)} examples, {len(engine.data.intents)} intents")


@nlu_group.command("evaluate")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20), help="k for cross-validation.")
@click.option(
    "--heldout", is_flag=True, help=f"Also score both held-out sets ({', '.join(p.name for p in HELDOUT_FILES)})."
)
@click.option("--rasa", is_flag=True, help="Also train a real Rasa on the same data in this run and score it too.")
@click.option("--errors", default=15, show_default=True, help="How many misclassified examples to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def evaluate_command(
    files: tuple[Path, ...], folds: int, heldout: bool, rasa: bool, errors: int, as_json: bool
) -> None:
    """k-fold cross-validation on the training data; with FILES (Rasa NLU YAML), score on them instead.

    In labelled files `faq/<id>` marks a FAQ question with the entry that answers it: FAQ top-1
    and top-3 are then reported too (against the FAQ seed data), and annotated entities their F1.
    """
    from nlu import get_embedded
    from nlu.evaluate import cross_validate, evaluate_examples, format_report
    from nlu.faq import FaqIndex, load_seed
    from nlu.result import ParseResult
    from nlu.training_data import load, load_training

    reports: dict[str, Any] = {}
    engine = get_embedded()
    targets = list(files) + (list(HELDOUT_FILES) if heldout else [])
    if not targets:
        report = cross_validate(load_training(), k=folds, engine=engine)
        reports[f"{folds}-fold cross-validation on nlu.yml"] = report
    else:
        index = FaqIndex.build(load_seed(), engine.analyse)
        with contextlib.ExitStack() as stack:
            parsers: dict[str, Callable[[str], ParseResult]] = {"embedded": engine.parse}
            if rasa:
                parsers["rasa"] = stack.enter_context(_rasa_parser(engine))
            for name, parse in parsers.items():
                for path in targets:
                    data = load(path)

                    def intent_of(text: str, parse: Callable[[str], ParseResult] = parse) -> tuple[str, float]:
                        result = parse(text)
                        return result.intent.name, result.intent.confidence

                    def entities_of(text: str, parse: Callable[[str], ParseResult] = parse) -> list[Any]:
                        return list(parse(text).entities)

                    title = f"{path} ({name})" if rasa else str(path)
                    reports[title] = evaluate_examples(data.examples, intent_of, index.ask, entities_of)
    if as_json:
        click.echo(json.dumps({title: r.as_dict() for title, r in reports.items()}, ensure_ascii=False, indent=2))
        return
    for title, report in reports.items():
        click.echo(format_report(report, title, show_errors=errors))
        click.echo("")


@contextlib.contextmanager
def _rasa_parser(engine: Any) -> Iterator[Callable[[str], Any]]:
    """A real Rasa trained on nlu/data/nlu.yml in this run and served for the time of the block."""
    from nlu import rasa_env
    from nlu.rasa_backend import RasaEngine

    def log(message: str) -> None:
        click.echo(f"  {message}", err=True)

    try:
        rasa_env.ensure_venv(log=log)
        model = rasa_env.train(force=True, log=log)
        server = rasa_env.serve(model.path, log=log)
    except rasa_env.RasaEnvError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield RasaEngine(server.url, timeout=30, fallback=engine).parse
    finally:
        server.stop()


# Rasa ---------------------------------------------------------------------------------------------


@nlu_group.command("rasa-env")
def rasa_env_command() -> None:
    """Build (or find) the Rasa 3.6.21 virtualenv outside the clone and print its path."""
    from nlu import rasa_env

    try:
        click.echo(str(rasa_env.ensure_venv()))
    except rasa_env.RasaEnvError as exc:
        raise click.ClickException(str(exc)) from None


@nlu_group.command("rasa-train")
@click.option("--force", is_flag=True, help="Retrain even if a model for this data and config exists.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Directory for the model (.tar.gz).")
def rasa_train_command(force: bool, out: Path | None) -> None:
    """Train a real Rasa NLU model on nlu/data/nlu.yml with nlu/config.yml."""
    from nlu import rasa_env

    try:
        model = rasa_env.train(out_dir=out, force=force)
    except rasa_env.RasaEnvError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{model.path} ({'reused' if model.reused else f'trained in {model.seconds:.0f} s'})")


@nlu_group.command("rasa-serve")
@click.option("--port", default=5005, show_default=True, type=int)
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def rasa_serve_command(port: int, model_path: Path | None) -> None:
    """Train if needed, then run the Rasa server on 127.0.0.1:PORT until Ctrl+C.

    Point madoguchi at it with NLU_BACKEND=rasa RASA_URL=http://127.0.0.1:PORT.
    """
    from nlu import rasa_env

    try:
        model = model_path or rasa_env.train().path
        server = rasa_env.serve(model, port=port)
    except rasa_env.RasaEnvError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Rasa is serving {model.name} at {server.url} (log: {server.log_path}). Stop with Ctrl+C.")
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
