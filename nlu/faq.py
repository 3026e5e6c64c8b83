"""FAQ retrieval: which FAQ entry answers this question, how sure we are, and the next candidates.

Text only (no database): handlers/faq builds an index from the entries staff maintain and asks it.
Each entry is represented by its phrasings (the question and its alternatives) and by one
document of everything it says (phrasings, tags, category, and its answer at a lower weight).
A question scores against an entry as a blend of its best single phrasing and the whole entry,
both TF-IDF cosine over topic features (nlu.features.faq_features), and of a linear classifier
trained on the entries' phrasings over the intent classifier's richer features (character n-grams,
readings, cues): the cosine rewards shared topic words, the classifier learns which words tell one
entry from the others, and paraphrases that share few words with any phrasing are found more often.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from nlu import classifier
from nlu.classifier import IntentModel
from nlu.features import Analysis, faq_features, intent_features
from nlu.result import FaqCandidate, FaqResult

SEED_FILE = Path(__file__).resolve().parent.parent / "handlers" / "faq" / "data" / "faq_seed.yml"

# Blend of best phrasing and whole entry, and the weight of the answer text in the entry document.
PHRASING_WEIGHT = 0.4
ANSWER_WEIGHT = 0.6
TAG_WEIGHT = 1.0
CANDIDATES = 3
# Weight of the classifier's probability in the final score, and its softmax temperature (the
# calibrated value on the seed data: not refitted at every rebuild, which staff trigger by editing).
CLASSIFIER_WEIGHT = 0.2
CLASSIFIER_TEMPERATURE = 0.12
# Recent questions remembered per index (a flow may ask twice about one message).
RECENT = 256

# Decisions (scores in [0, 1]), calibrated on out-of-set paraphrases: the FAQ questions of the
# first two held-out sets (210 lines, not the training phrasings). At these values 128 are answered,
# none wrongly; 3 get "we do not know"; the candidates offered hold the right entry for 74 of the
# other 79. With SUGGEST_AT at 0.18, 19 got "we do not know". Unanswerable and out-of-scope lines
# that reach retrieval are answered 1 time in 65. A citizen who finds no fitting candidate taps
# 「どれでもない」, and the question is recorded for staff as 未回答 all the same.
ANSWER_AT = 0.30
SUGGEST_AT = 0.14
# An answer must stand out: when the runner-up scores this close to the best, we ask instead.
RUNNER_UP_RATIO = 0.8


class Decision(StrEnum):
    ANSWER = "answer"
    SUGGEST = "suggest"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class FaqDocument:
    id: str
    question: str
    answer: str
    alt_questions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    category: str = ""

    @property
    def phrasings(self) -> tuple[str, ...]:
        return (self.question, *self.alt_questions)


def load_seed(path: Path = SEED_FILE) -> list[FaqDocument]:
    items: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [
        FaqDocument(
            id=str(item["id"]),
            question=str(item["question"]),
            answer=str(item.get("answer", "")),
            alt_questions=tuple(str(q) for q in item.get("alt_questions") or ()),
            tags=tuple(str(tag) for tag in item.get("tags") or ()),
            category=str(item.get("category") or ""),
        )
        for item in items
    ]


Vector = dict[str, float]
# Weighted term frequencies: tags, category and answer text count less (or more) than 1 a word.
TermWeights = defaultdict[str, float]


def _tf(features: Iterable[str], weight: float = 1.0, into: TermWeights | None = None) -> TermWeights:
    counts: TermWeights = into if into is not None else defaultdict(float)
    for f in features:
        counts[f] += weight
    return counts


@dataclass
class FaqIndex:
    """Built once per set of entries; asking it is read-only and thread-safe."""

    documents: list[FaqDocument]
    analyser: Callable[[str], Analysis]
    idf: dict[str, float] = field(default_factory=dict)
    _phrasing_postings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    _entry_postings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    _phrasing_owner: list[int] = field(default_factory=list)
    _model: IntentModel | None = None
    _numbers: dict[str, int] = field(default_factory=dict)  # entry id -> its place in `documents`
    _recent: OrderedDict[str, FaqResult] = field(default_factory=OrderedDict)
    _recent_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, documents: Sequence[FaqDocument], analyser: Callable[[str], Analysis]) -> FaqIndex:
        index = cls(documents=list(documents), analyser=analyser)
        phrasing_tfs: list[TermWeights] = []
        entry_tfs: list[TermWeights] = []
        for number, doc in enumerate(index.documents):
            entry: TermWeights = defaultdict(float)
            for phrasing in doc.phrasings:
                tf = _tf(faq_features(analyser(phrasing)))
                phrasing_tfs.append(tf)
                index._phrasing_owner.append(number)
                for f, c in tf.items():
                    entry[f] += c
            for tag in doc.tags:
                _tf(faq_features(analyser(tag)), TAG_WEIGHT, entry)
            if doc.category:
                _tf(faq_features(analyser(doc.category)), 0.5, entry)
            if doc.answer:
                _tf(faq_features(analyser(doc.answer)), ANSWER_WEIGHT, entry)
            entry_tfs.append(entry)
        # Document frequency over entries: a word every entry uses tells entries apart poorly.
        df: Counter[str] = Counter()
        for entry in entry_tfs:
            df.update(entry.keys())
        n = max(len(entry_tfs), 1)
        index.idf = {f: math.log((1 + n) / (1 + c)) + 1.0 for f, c in df.items()}
        index._phrasing_postings = index._postings(phrasing_tfs)
        index._entry_postings = index._postings(entry_tfs)
        index._model = index._train(analyser)
        index._numbers = {doc.id: n for n, doc in enumerate(index.documents)}
        return index

    def _train(self, analyser: Callable[[str], Analysis]) -> IntentModel | None:
        docs, labels = [], []
        for doc in self.documents:
            for phrasing in doc.phrasings:
                docs.append(intent_features(analyser(phrasing)))
                labels.append(doc.id)
        # Entries with nothing to learn from (two entries, one feature between them, or words only
        # of marks) leave the similarity alone to decide.
        if len(set(labels)) < 2 or not any(docs):
            return None
        model = classifier.train(docs, labels, calibrate=False)
        model.temperature = CLASSIFIER_TEMPERATURE
        return model

    def _vector(self, tf: TermWeights) -> Vector:
        vector = {f: (1.0 + math.log(c) if c >= 1 else c) * self.idf[f] for f, c in tf.items() if f in self.idf}
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        return {f: v / norm for f, v in vector.items()}

    def _postings(self, tfs: list[TermWeights]) -> dict[str, list[tuple[int, float]]]:
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for number, tf in enumerate(tfs):
            for f, w in self._vector(tf).items():
                postings[f].append((number, w))
        return dict(postings)

    @staticmethod
    def _scores(query: Vector, postings: dict[str, list[tuple[int, float]]]) -> dict[int, float]:
        scores: dict[int, float] = defaultdict(float)
        for f, qw in query.items():
            for number, w in postings.get(f, ()):
                scores[number] += qw * w
        return scores

    def ask(self, text: str, *, analysis: Analysis | None = None) -> FaqResult:
        if analysis is None:
            with self._recent_lock:
                if text in self._recent:
                    self._recent.move_to_end(text)
                    return self._recent[text]
            result = self._ask(text, self.analyser(text))
            with self._recent_lock:
                self._recent[text] = result
                while len(self._recent) > RECENT:
                    self._recent.popitem(last=False)
            return result
        return self._ask(text, analysis)

    def _ask(self, text: str, analysis: Analysis) -> FaqResult:
        query = self._vector(_tf(faq_features(analysis)))
        best_phrasing: dict[int, float] = defaultdict(float)
        for number, score in self._scores(query, self._phrasing_postings).items():
            owner = self._phrasing_owner[number]
            best_phrasing[owner] = max(best_phrasing[owner], score)
        entry_scores = self._scores(query, self._entry_postings)
        blended = {
            number: PHRASING_WEIGHT * best_phrasing.get(number, 0.0)
            + (1 - PHRASING_WEIGHT) * entry_scores.get(number, 0.0)
            for number in set(best_phrasing) | set(entry_scores)
        }
        # The classifier helps choose the order; the score stays the similarity, so a one-word
        # question that fits several entries about equally (「マイナンバーカード」) is still asked about.
        order = blended
        if self._model is not None and blended:
            learned = {self._numbers[faq_id]: p for faq_id, p in self._model.predict(intent_features(analysis))}
            order = {
                n: (1 - CLASSIFIER_WEIGHT) * blended.get(n, 0.0) + CLASSIFIER_WEIGHT * learned.get(n, 0.0)
                for n in set(blended) | {n for n, p in learned.items() if p >= 0.05}
            }
        ranked = sorted(order, key=lambda n: (-order[n], n))
        if not ranked or blended.get(ranked[0], 0.0) <= 0:
            return FaqResult(text=text, faq_id=None, score=0.0, candidates=[])
        top = [
            FaqCandidate(faq_id=self.documents[n].id, score=round(min(blended.get(n, 0.0), 1.0), 4))
            for n in ranked[: 1 + CANDIDATES]
        ]
        return FaqResult(text=text, faq_id=top[0].faq_id, score=top[0].score, candidates=top[1:])

    def get(self, faq_id: str) -> FaqDocument | None:
        return next((d for d in self.documents if d.id == faq_id), None)


def decide(result: FaqResult) -> Decision:
    """Answer, offer candidates (「もしかして…」), or say we do not know."""
    if result.faq_id is None or result.score < SUGGEST_AT:
        return Decision.UNKNOWN
    runner_up = result.candidates[0].score if result.candidates else 0.0
    if result.score >= ANSWER_AT and runner_up < result.score * RUNNER_UP_RATIO:
        return Decision.ANSWER
    return Decision.SUGGEST


def suggestions(result: FaqResult) -> list[str]:
    """The ids to offer as 「もしかして…」: the best and the close runners-up."""
    if result.faq_id is None:
        return []
    floor = max(SUGGEST_AT, result.score * 0.6)
    return [result.faq_id, *[c.faq_id for c in result.candidates if c.score >= floor]][:CANDIDATES]
