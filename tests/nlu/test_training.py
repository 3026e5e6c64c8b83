"""Training: seconds, cached under the cache directory keyed by a hash of the data, retrained when
the data changes; and the training data is valid Rasa NLU YAML with the issue's intents and entities."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from nlu.embedded import EmbeddedEngine
from nlu.training_data import Example, load_training, parse_example


def test_trains_in_seconds_caches_and_retrains_only_when_the_data_changes(tmp_path: Path) -> None:
    data = load_training()
    first = EmbeddedEngine(data, cache_dir=tmp_path)
    started = time.perf_counter()
    assert first.parse("予約したい").intent.name == "reservation_make"
    assert time.perf_counter() - started < 30
    assert first.training_seconds is not None and first.model_path.exists()

    again = EmbeddedEngine(load_training(), cache_dir=tmp_path)
    assert again.parse("予約したい").intent.name == "reservation_make"
    assert again.training_seconds is None and again.loaded_from == first.model_path

    changed = replace(data, examples=[*data.examples, Example("窓口の予約がしてみたい", "reservation_make")])
    other = EmbeddedEngine(changed, cache_dir=tmp_path)
    assert other.model_path != first.model_path
    other.parse("予約したい")
    assert other.training_seconds is not None


def test_a_damaged_cache_file_is_retrained_not_fatal(tmp_path: Path) -> None:
    engine = EmbeddedEngine(load_training(), cache_dir=tmp_path)
    engine.model_path.parent.mkdir(parents=True, exist_ok=True)
    engine.model_path.write_bytes(b"not a model")
    assert engine.parse("ありがとう").intent.name == "thanks"
    assert engine.training_seconds is not None


def test_rasa_annotations_are_read() -> None:
    text, annotations = parse_example("[明日](date)の[午後2時](time)に[マイナカード](procedure:マイナンバーカード)")
    assert text == "明日の午後2時にマイナカード"
    assert [(a.entity, a.value, text[a.start : a.end]) for a in annotations] == [
        ("date", "明日", "明日"),
        ("time", "午後2時", "午後2時"),
        ("procedure", "マイナンバーカード", "マイナカード"),
    ]
    text, [annotation] = parse_example('[牛窓町]{"entity": "district", "value": "牛窓"}の避難所')
    assert (text, annotation.entity, annotation.value, annotation.start, annotation.end) == (
        "牛窓町の避難所",
        "district",
        "牛窓",
        0,
        3,
    )


def test_training_data_carries_every_entity_kind_and_lookup() -> None:
    data = load_training()
    annotated = {a.entity for e in data.examples for a in e.entities}
    assert {"procedure", "date", "time", "district", "facility_type", "hazard"} <= annotated
    assert set(data.lookups) == {"procedure", "district", "facility_type", "hazard"}
    assert {
        "転入届",
        "転出届",
        "転居届",
        "住民票",
        "印鑑登録",
        "戸籍",
        "マイナンバーカード",
        "児童手当",
        "介護保険",
    } <= {data.synonyms.get(s, s) for s in data.lookups["procedure"]}
    assert set(data.regexes) == {"time", "date"}
    # Annotations sit on the text they name.
    for example in data.examples:
        for a in example.entities:
            assert 0 <= a.start < a.end <= len(example.text)
