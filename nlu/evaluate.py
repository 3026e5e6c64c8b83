"""Evaluation: k-fold cross-validation on the training data, and scoring on any labelled file
(Rasa NLU YAML; `faq/<id>` labels a FAQ question with the entry that answers it).

Reports accuracy, macro-F1, per-intent precision/recall/F1, the worst confusions, where FAQ ids
are labelled FAQ top-1 and top-3 accuracy, and where entities are annotated their F1 (procedure,
date, time, district: a found entity counts when its kind matches an annotation it overlaps and, for
procedure and district, its canonical value too; dates and times are judged by span, since their
value depends on the day the set is scored).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nlu import classifier
from nlu.embedded import EmbeddedEngine
from nlu.features import intent_features
from nlu.result import Entity, FaqResult
from nlu.training_data import Annotation, Example, TrainingData

SCORED_ENTITIES = ("procedure", "date", "time", "district")
_VALUE_CHECKED = ("procedure", "district")


@dataclass
class EntityReport:
    true_positives: Counter[str] = field(default_factory=Counter)
    false_positives: Counter[str] = field(default_factory=Counter)
    false_negatives: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)  # text, what went wrong

    @staticmethod
    def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    @property
    def f1(self) -> float:
        return self._f1(
            sum(self.true_positives.values()), sum(self.false_positives.values()), sum(self.false_negatives.values())
        )[2]

    def per_entity(self) -> dict[str, dict[str, float]]:
        out = {}
        for kind in SCORED_ENTITIES:
            tp, fp, fn = self.true_positives[kind], self.false_positives[kind], self.false_negatives[kind]
            precision, recall, f1 = self._f1(tp, fp, fn)
            out[kind] = {
                "precision": round(precision, 4),
                "recall": round(recall, 4),
                "f1": round(f1, 4),
                "support": tp + fn,
            }
        return out


def _matches(found: Entity, gold: Annotation) -> bool:
    if found.entity != gold.entity or found.end <= gold.start or found.start >= gold.end:
        return False
    return found.entity not in _VALUE_CHECKED or found.value == gold.value


def score_entities(examples: Sequence[Example], extract: Callable[[str], Sequence[Entity]]) -> EntityReport:
    """Entity precision/recall/F1 over every example of an annotated set (an example without
    annotations expects none)."""
    report = EntityReport()
    for example in examples:
        gold = [a for a in example.entities if a.entity in SCORED_ENTITIES]
        found = [e for e in extract(example.text) if e.entity in SCORED_ENTITIES]
        matched: set[int] = set()
        for entity in found:
            hit = next((i for i, a in enumerate(gold) if i not in matched and _matches(entity, a)), None)
            if hit is None:
                report.false_positives[entity.entity] += 1
                report.errors.append((example.text, f"extra {entity.entity}={entity.value}"))
            else:
                matched.add(hit)
                report.true_positives[entity.entity] += 1
        for i, annotation in enumerate(gold):
            if i not in matched:
                report.false_negatives[annotation.entity] += 1
                surface = example.text[annotation.start : annotation.end]
                report.errors.append((example.text, f"missed {annotation.entity}={annotation.value} ({surface})"))
    return report


@dataclass
class IntentReport:
    total: int = 0
    correct: int = 0
    per_intent: dict[str, dict[str, float]] = field(default_factory=dict)
    confusions: list[tuple[str, str, int]] = field(default_factory=list)
    errors: list[tuple[str, str, str, float]] = field(default_factory=list)  # text, gold, predicted, conf
    faq_total: int = 0
    faq_top1: int = 0
    faq_top3: int = 0
    faq_errors: list[tuple[str, str, str | None]] = field(default_factory=list)
    entities: EntityReport | None = None
    seconds: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def macro_f1(self) -> float:
        scores = [row["f1"] for row in self.per_intent.values() if row["support"] > 0]
        return sum(scores) / len(scores) if scores else 0.0

    @property
    def faq_top1_accuracy(self) -> float:
        return self.faq_top1 / self.faq_total if self.faq_total else 0.0

    @property
    def faq_top3_accuracy(self) -> float:
        return self.faq_top3 / self.faq_total if self.faq_total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_intent": self.per_intent,
            "worst_confusions": [{"gold": g, "predicted": p, "count": n} for g, p, n in self.confusions],
            "faq_total": self.faq_total,
            "faq_top1": round(self.faq_top1_accuracy, 4),
            "faq_top3": round(self.faq_top3_accuracy, 4),
            **(
                {"entity_f1": round(self.entities.f1, 4), "per_entity": self.entities.per_entity()}
                if self.entities
                else {}
            ),
        }


def score(
    gold: Sequence[str], predicted: Sequence[str], texts: Sequence[str], confidences: Sequence[float]
) -> IntentReport:
    report = IntentReport(total=len(gold))
    labels = sorted(set(gold) | set(predicted))
    pairs: Counter[tuple[str, str]] = Counter()
    for text, g, p, c in zip(texts, gold, predicted, confidences, strict=True):
        if g == p:
            report.correct += 1
        else:
            pairs[(g, p)] += 1
            report.errors.append((text, g, p, c))
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if p == label and g != label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report.per_intent[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": tp + fn,
        }
    report.confusions = [(g, p, n) for (g, p), n in pairs.most_common(10)]
    return report


def cross_validate(data: TrainingData, k: int = 5, engine: EmbeddedEngine | None = None) -> IntentReport:
    """k-fold cross-validation of the intent classifier on the training examples."""
    started = time.perf_counter()
    engine = engine or EmbeddedEngine(data, use_cache=False)
    analyses = [engine.analyse(e.text) for e in data.examples]
    docs = [intent_features(a) for a in analyses]
    dense = engine.dense_rows(analyses)
    labels = [e.intent for e in data.examples]
    predicted = [""] * len(docs)
    confidence = [0.0] * len(docs)
    for held in classifier.folds(labels, k):
        held_set = set(held)
        train_idx = [i for i in range(len(docs)) if i not in held_set]
        model = classifier.train(
            [docs[i] for i in train_idx],
            [labels[i] for i in train_idx],
            calibrate=False,
            dense=dense[train_idx] if dense is not None else None,
        )
        for i in held:
            name, p = model.predict(docs[i], dense[i] if dense is not None else None)[0]
            predicted[i], confidence[i] = name, p
    report = score(labels, predicted, [e.text for e in data.examples], confidence)
    report.seconds = time.perf_counter() - started
    return report


def evaluate_examples(
    examples: Sequence[Example],
    parse: Callable[[str], tuple[str, float]],
    ask_faq: Callable[[str], FaqResult] | None = None,
    extract: Callable[[str], Sequence[Entity]] | None = None,
) -> IntentReport:
    """Scores a parser (text -> (intent, confidence)) and optionally FAQ retrieval on labelled examples.

    A prediction under the confidence bar counts as what the bot would do with it: FAQ retrieval,
    i.e. intent `faq` (or `out_of_scope` when nothing matches; see nlu.routing).
    """
    started = time.perf_counter()
    predicted, confidences = [], []
    for e in examples:
        name, conf = parse(e.text)
        predicted.append(name)
        confidences.append(conf)
    report = score([e.intent for e in examples], predicted, [e.text for e in examples], confidences)
    if ask_faq is not None:
        for e in examples:
            if not e.faq_id:
                continue
            result = ask_faq(e.text)
            report.faq_total += 1
            ids = [result.faq_id, *[c.faq_id for c in result.candidates]]
            if ids[0] == e.faq_id:
                report.faq_top1 += 1
            else:
                report.faq_errors.append((e.text, e.faq_id, ids[0]))
            if e.faq_id in ids[:3]:
                report.faq_top3 += 1
    if extract is not None and any(e.entities for e in examples):
        report.entities = score_entities(examples, extract)
    report.seconds = time.perf_counter() - started
    return report


def format_report(report: IntentReport, title: str, *, show_errors: int = 15) -> str:
    lines = [
        f"== {title} ==",
        f"examples: {report.total}   accuracy: {report.accuracy:.3f}   macro-F1: {report.macro_f1:.3f}",
    ]
    if report.faq_total:
        lines.append(
            f"FAQ questions: {report.faq_total}   "
            f"top-1: {report.faq_top1_accuracy:.3f}   top-3: {report.faq_top3_accuracy:.3f}"
        )
    if report.entities:
        per = report.entities.per_entity()
        lines.append(
            f"entity F1: {report.entities.f1:.3f}   "
            + "   ".join(f"{kind} {row['f1']:.3f} (n={int(row['support'])})" for kind, row in per.items())
        )
    lines.append("")
    lines.append(f"{'intent':<20}{'precision':>10}{'recall':>10}{'f1':>8}{'n':>6}")
    for label, row in sorted(report.per_intent.items()):
        lines.append(
            f"{label:<20}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>8.3f}{int(row['support']):>6}"
        )
    if report.confusions:
        lines.append("")
        lines.append("worst confusions (gold -> predicted: count)")
        lines.extend(f"  {g} -> {p}: {n}" for g, p, n in report.confusions)
    if show_errors and report.errors:
        lines.append("")
        lines.append("some errors")
        lines.extend(f"  [{g} -> {p} {c:.2f}] {text}" for text, g, p, c in report.errors[:show_errors])
    if show_errors and report.faq_errors:
        lines.append("")
        lines.append("FAQ misses (text: expected / got)")
        lines.extend(f"  {text}: {want} / {got}" for text, want, got in report.faq_errors[:show_errors])
    if show_errors and report.entities and report.entities.errors:
        lines.append("")
        lines.append("entity errors")
        lines.extend(f"  {what}: {text}" for text, what in report.entities.errors[:show_errors])
    return "\n".join(lines)
