"""The embedded engine (default): in-process, no server. Trains from nlu/data/nlu.yml in seconds
and caches the trained model under the cache directory, keyed by a hash of the data and of the
engine, so a change to the data retrains and nothing else does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from nlu import classifier, overrides
from nlu.classifier import IntentModel
from nlu.entities import Gazetteer
from nlu.features import Analysis, analyse, dense_features, intent_features
from nlu.result import IntentScore, ParseResult
from nlu.training_data import TrainingData, load_training
from nlu.vectors import WordVectors

log = logging.getLogger(__name__)

# Bump when features or training change: cached models of older versions are then ignored.
ENGINE_VERSION = "4"
RANKING_SIZE = 10
DEFAULT_CACHE_DIR = Path("var") / "nlu"


def _cache_dir() -> Path:
    return Path(os.environ.get("NLU_CACHE_DIR") or DEFAULT_CACHE_DIR)


class EmbeddedEngine:
    name = "embedded"

    def __init__(
        self,
        data: TrainingData | None = None,
        *,
        cache_dir: Path | None = None,
        use_cache: bool = True,
        use_vectors: bool = True,
    ):
        self.data = data or load_training()
        self.gazetteer = Gazetteer.from_training(self.data)
        self.cache_dir = cache_dir or _cache_dir()
        self.use_cache = use_cache
        self.training_seconds: float | None = None
        self.loaded_from: Path | None = None
        self._model: IntentModel | None = None
        self._lock = threading.Lock()
        self._vectors: WordVectors | None = None
        self._vectors_loaded = not use_vectors
        self._vectors_lock = threading.Lock()  # its own: the model's lock is held while the model loads

    @property
    def vectors(self) -> WordVectors | None:
        """ja-ginza's word vectors when installed (nlu.vectors), loaded once."""
        if not self._vectors_loaded:
            with self._vectors_lock:
                if not self._vectors_loaded:
                    self._vectors = WordVectors.load(self.cache_dir)
                    self._vectors_loaded = True
        return self._vectors

    def dense(self, analysis: Analysis) -> np.ndarray | None:
        vectors = self.vectors
        return dense_features(analysis, vectors) if vectors is not None else None

    def dense_rows(self, analyses: list[Analysis]) -> np.ndarray | None:
        """One word-vector row per analysis, for training (None without vectors)."""
        vectors = self.vectors
        return np.array([dense_features(a, vectors) for a in analyses]) if vectors is not None else None

    # Model -------------------------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        vectors = self.vectors.source if self.vectors is not None else "none"
        digest = hashlib.sha256(
            f"{ENGINE_VERSION}:{classifier.C}:{classifier.DENSE_SCALE}:{vectors}:{self.data.fingerprint()}".encode()
        )
        return digest.hexdigest()[:20]

    @property
    def model_path(self) -> Path:
        return self.cache_dir / f"intent-{self.fingerprint}.npz"

    @property
    def model(self) -> IntentModel:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load_or_train()
        return self._model

    def _load_or_train(self) -> IntentModel:
        path = self.model_path
        if self.use_cache and path.exists():
            try:
                model = IntentModel.load(path)
                self.loaded_from = path
                return model
            except Exception as exc:  # a damaged cache file is retrained, never fatal
                log.warning("ignoring unreadable NLU model cache %s: %s", path, exc)
        model = self.train()
        if self.use_cache:
            try:
                model.save(path)
                self.loaded_from = path
            except OSError as exc:
                log.warning("could not cache the NLU model at %s: %s", path, exc)
        return model

    def train(self) -> IntentModel:
        started = time.perf_counter()
        analyses = [self.analyse(e.text) for e in self.data.examples]
        docs = [intent_features(a) for a in analyses]
        labels = [e.intent for e in self.data.examples]
        dense = self.dense_rows(analyses)
        model = classifier.train(docs, labels, dense=dense)
        self.training_seconds = time.perf_counter() - started
        log.info("trained the NLU model on %d examples in %.1f s", len(docs), self.training_seconds)
        return model

    def retrain(self) -> IntentModel:
        with self._lock:
            self._model = self.train()
            if self.use_cache:
                self._model.save(self.model_path)
                self.loaded_from = self.model_path
        return self._model

    # Parsing -----------------------------------------------------------------------------

    def analyse(self, text: str, reference_time: datetime | None = None) -> Analysis:
        return analyse(text, self.gazetteer, reference_time)

    def parse(self, text: str, reference_time: datetime | None = None) -> ParseResult:
        text = text if isinstance(text, str) else str(text)
        analysis = self.analyse(text, reference_time)
        return self.parse_analysis(analysis)

    def parse_analysis(self, analysis: Analysis) -> ParseResult:
        model = self.model
        features = intent_features(analysis)
        if not analysis.has_content or model.known(features) == 0:
            # Emoji, marks, or nothing we have ever seen: not a request we can act on.
            score = IntentScore(name="out_of_scope", confidence=1.0 if not analysis.has_content else 0.9)
            return ParseResult(text=analysis.text, intent=score, intent_ranking=[score], entities=analysis.entities)
        predicted = model.predict(features, self.dense(analysis))
        ranking = [IntentScore(name=name, confidence=round(p, 4)) for name, p in predicted[:RANKING_SIZE]]
        ranking = overrides.adjust(ranking, analysis.folded)
        return ParseResult(text=analysis.text, intent=ranking[0], intent_ranking=ranking, entities=analysis.entities)
