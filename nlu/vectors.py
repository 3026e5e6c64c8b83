"""Japanese word vectors from the `ja-ginza` package's data files (300 dimensions, 20,000 vectors
for about 480,000 words), read without spaCy: `vocab/vectors` is a NumPy array (memory-mapped, so
only the rows used are read) and `vocab/key2row` maps spaCy's 64-bit hash of a word (MurmurHash64A,
seed 1) to its row. The key table is decoded once (MessagePack, one map of integers) and cached
under the NLU cache directory as NumPy arrays.

A message's vector is the mean of its content words' unit vectors: words that mean alike
(おめでた・妊娠, 犬・猫) point alike even when no character is shared. The package is
installed from requirements-models.lock; without it the engine works as before, without vectors.
"""

from __future__ import annotations

import importlib.util
import logging
import struct
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DIMENSIONS = 300
_M = 0xC6A4A7935BD1E995
_MASK = (1 << 64) - 1


def murmur64a(data: bytes, seed: int = 1) -> int:
    """MurmurHash64A, as spaCy hashes strings (hash_string: UTF-8, seed 1)."""
    length = len(data)
    h = (seed ^ (length * _M)) & _MASK
    whole = length // 8
    for (k,) in struct.iter_unpack("<Q", data[: whole * 8]):
        k = (k * _M) & _MASK
        k ^= k >> 47
        k = (k * _M) & _MASK
        h ^= k
        h = (h * _M) & _MASK
    tail = data[whole * 8 :]
    if tail:
        for i in range(len(tail) - 1, -1, -1):
            h ^= tail[i] << (8 * i)
        h = (h * _M) & _MASK
    h ^= h >> 47
    h = (h * _M) & _MASK
    h ^= h >> 47
    return h


def _decode_key2row(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The one MessagePack map of key2row: uint64 keys to small row numbers, as sorted arrays."""
    if raw[0] == 0xDF:
        (count,), position = struct.unpack_from(">I", raw, 1), 5
    elif raw[0] == 0xDE:
        (count,), position = struct.unpack_from(">H", raw, 1), 3
    else:
        raise ValueError("key2row is not a MessagePack map")
    keys = np.empty(count, dtype=np.uint64)
    rows = np.empty(count, dtype=np.int32)
    for i in range(count):
        values = []
        for _ in range(2):
            tag = raw[position]
            if tag <= 0x7F:
                values.append(tag)
                position += 1
            elif tag in (0xCC, 0xCD, 0xCE, 0xCF):
                size = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}[tag]
                values.append(int.from_bytes(raw[position + 1 : position + 1 + size], "big"))
                position += 1 + size
            else:
                raise ValueError(f"unexpected MessagePack type 0x{tag:02x} in key2row")
        keys[i], rows[i] = values
    order = np.argsort(keys)
    return keys[order], rows[order]


def _vocab_dir() -> Path | None:
    spec = importlib.util.find_spec("ja_ginza")  # finds the package without importing it (no spaCy)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("ja_ginza-*/vocab"))
        if found:
            return found[-1]
    return None


class WordVectors:
    def __init__(self, vectors: np.ndarray, keys: np.ndarray, rows: np.ndarray, source: str) -> None:
        self.vectors = vectors
        self.keys = keys
        self.rows = rows
        self.source = source
        self._row = lru_cache(maxsize=65536)(self._lookup)

    @classmethod
    def load(cls, cache_dir: Path) -> WordVectors | None:
        """The vectors of the installed ja-ginza, or None when it is not installed."""
        vocab = _vocab_dir()
        if vocab is None:
            log.info("ja-ginza is not installed: the NLU runs without word vectors")
            return None
        vectors = np.load(vocab / "vectors", mmap_mode="r", allow_pickle=False)
        key_file = vocab / "key2row"
        cached = cache_dir / f"ginza-key2row-{vocab.parent.name}-{key_file.stat().st_size}.npz"
        try:
            with np.load(cached, allow_pickle=False) as table:
                keys, rows = table["keys"], table["rows"]
        except (OSError, ValueError, KeyError):
            keys, rows = _decode_key2row(key_file.read_bytes())
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_suffix(f".tmp{id(keys)}.npz")
                np.savez(tmp, keys=keys, rows=rows)
                tmp.replace(cached)
            except OSError as exc:
                log.warning("could not cache the word-vector keys at %s: %s", cached, exc)
        return cls(vectors, keys, rows, vocab.parent.name)

    def _lookup(self, word: str) -> int:
        key = np.uint64(murmur64a(word.encode("utf-8")))
        at = int(np.searchsorted(self.keys, key))
        return int(self.rows[at]) if at < len(self.keys) and self.keys[at] == key else -1

    def vector(self, *forms: str) -> np.ndarray | None:
        """The vector of the first form known (e.g. a word's normalised form, then its surface)."""
        for form in forms:
            row = self._row(form)
            if row >= 0:
                return np.asarray(self.vectors[row], dtype=np.float64)
        return None

    def mean(self, words: Iterable[tuple[str, ...]]) -> np.ndarray:
        """Unit-length mean of the unit vectors of the words known (zeros when none is)."""
        total = np.zeros(DIMENSIONS)
        for forms in words:
            v = self.vector(*forms)
            if v is not None:
                total += v / (np.linalg.norm(v) or 1.0)
        norm = np.linalg.norm(total)
        return total / norm if norm else total
