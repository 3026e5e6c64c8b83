"""ja-ginza's word vectors, read without spaCy (nlu/vectors.py): the hash finds the package's own
keys, the key table decodes and is cached, words that mean alike point alike, and the engine works
(and trains a different model) without them."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from nlu.embedded import EmbeddedEngine
from nlu.training_data import load_training
from nlu.vectors import WordVectors, _decode_key2row, murmur64a


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> WordVectors:
    loaded = WordVectors.load(tmp_path_factory.mktemp("vectors"))
    assert loaded is not None, "ja-ginza is installed by dev.py from requirements-models.lock"
    return loaded


def test_murmur64a_hashes_every_length() -> None:
    assert murmur64a(b"", 0) == 0
    assert murmur64a("住民票".encode(), 1) != murmur64a("住民表".encode(), 1)
    # Every tail length (1-7 bytes past a multiple of 8) hashes, and differently.
    hashes = {murmur64a(b"abcdefghijklmno"[:n], 1) for n in range(16)}
    assert len(hashes) == 16


def test_the_hash_finds_the_packages_own_words(vectors: WordVectors) -> None:
    for word in ("住民票", "申し込み", "避難", "ごみ", "妊娠"):
        assert vectors.vector(word) is not None, word
    assert vectors.vector("ぁぃぅぇぉ存在しない語") is None
    assert vectors.vector("ぁぃぅぇぉ存在しない語", "住民票") is not None  # the first form known


def test_words_that_mean_alike_point_alike(vectors: WordVectors) -> None:
    def cosine(a: str, b: str) -> float:
        x, y = vectors.vector(a), vectors.vector(b)
        assert x is not None and y is not None
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

    assert cosine("妊娠", "おめでた") > cosine("妊娠", "住民票")
    assert cosine("犬", "猫") > cosine("犬", "税金")
    mean = vectors.mean([("妊娠",), ("ない語xyz",)])
    assert np.isclose(np.linalg.norm(mean), 1.0)
    assert not vectors.mean([("ない語xyz",)]).any()


def test_the_key_table_decodes_and_is_cached(tmp_path: Path) -> None:
    # A MessagePack map of three entries, the shapes key2row uses: uint64, uint32 and fixint keys.
    raw = b"\xde" + struct.pack(">H", 3)
    raw += b"\xcf" + (2**63 + 5).to_bytes(8, "big") + b"\x07"
    raw += b"\xce" + (70000).to_bytes(4, "big") + b"\xcd" + (300).to_bytes(2, "big")
    raw += b"\x05" + b"\xcc\xc8"
    keys, rows = _decode_key2row(raw)
    assert keys.tolist() == [5, 70000, 2**63 + 5] and rows.tolist() == [200, 300, 7]
    with pytest.raises(ValueError):
        _decode_key2row(b"\x91\x01")  # an array, not a map
    first = WordVectors.load(tmp_path)
    assert first is not None and list(tmp_path.glob("ginza-key2row-*.npz"))
    second = WordVectors.load(tmp_path)
    assert second is not None and np.array_equal(first.keys, second.keys)


def test_the_engine_uses_the_vectors_and_works_without_them(tmp_path: Path) -> None:
    data = load_training()
    with_vectors = EmbeddedEngine(data, cache_dir=tmp_path / "a")
    without = EmbeddedEngine(data, cache_dir=tmp_path / "b", use_vectors=False)
    assert with_vectors.fingerprint != without.fingerprint  # different models, cached apart
    assert with_vectors.model.dense is not None and without.model.dense is None
    assert without.dense(without.analyse("住民票")) is None
    for engine in (with_vectors, without):
        assert engine.parse("住民票の写しを取りたいので窓口を予約したい").intent.name == "reservation_make"
    # A cached model with vector weights loads back with them.
    reloaded = EmbeddedEngine(data, cache_dir=tmp_path / "a")
    assert reloaded.model.dense is not None and reloaded.training_seconds is None
