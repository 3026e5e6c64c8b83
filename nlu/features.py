"""From a message to features: one analysis (normalise, tokenize, entities) serves the intent
classifier and the FAQ retriever.

Feature families (prefix: meaning):
- `w:` Sudachi normalised forms (申込/申し込み → 申し込み), `b:` their bigrams;
- `c:` character 2–3-grams of the normalised text (robust to unknown words and typos),
  `k:` single kanji;
- `p:` 2–3-grams of the phonetic key of the reading (kana-only messages meet kanji ones);
- `e:` entity kinds present and `v:` canonical entity values (マイナカード → マイナンバーカード);
- `q:` cues from a small lexicon of how people say "stop", "check", "join", "where", "when" in
  any style (やめたい, いらん, おえん, 見せて, 忘れた...), so rare phrasings share a feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

import numpy as np

from nlu.entities import Gazetteer, extract
from nlu.normalize import Normalised, has_content, normalise_with_map, phonetic_key, to_hiragana
from nlu.result import Entity
from nlu.tokenizer import Token, tokenize
from nlu.vectors import WordVectors

# Only this much of a very long message is analysed: the request is nearly always at its start,
# and parse time must stay bounded whatever a citizen pastes.
MAX_ANALYSED_CHARS = 600

_SKIP_POS = {"補助記号", "空白"}
_CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞", "接尾辞", "接頭辞", "副詞"}
# Words that carry no topic: what people say around their question.
_STOPWORDS = """
する 為る ある 有る いる 居る なる 成る 出来る できる こと もの 物
事 方 ため よう 何 どう どこ いつ 教える 知る 分かる わかる 思う
言う いい 良い よい 欲しい ください 下さい くださる 今 これ それ 私
僕 場合 時 とき の ん ところ 所 さん 様 ちょっと 少し どうやって
貰う もらう 行く いく 来る くる みる 見る おる れる られる せる お
ご 御 的 等 など たい ほう 方法 どんな どの 何処 如何
"""
STOPWORDS = frozenset(_STOPWORDS.split())


# Cue lexicon, matched on the normalised text folded to hiragana.
CUES: dict[str, tuple[str, ...]] = {
    "stop": (
        "きゃんせる",
        "取り消",
        "取消",
        "とりけし",
        "やめ",
        "止め",
        "とめ",
        "辞退",
        "欠席",
        "休み",
        "休む",
        "行けな",
        "行けん",
        "いけな",
        "いけん",
        "削除",
        "解除",
        "不要",
        "いらな",
        "いらん",
        "いりません",
        "おふ",
        "すとっぷ",
        "停止",
        "ていし",
        "おえん",
        "結構です",
        "取りやめ",
        "なしに",
        "なしで",
        "来すぎ",
        "うるさい",
        "多すぎ",
        "切りた",
        "出られな",
        "行かない",
    ),
    "check": (
        "確認",
        "かくにん",
        "見せ",
        "表示",
        "忘れ",
        "だった",
        "だっけ",
        "たっけ",
        "控え",
        "見当たら",
        "なくし",
        "見つから",
    ),
    "join": ("申し込", "申込", "もうしこ", "参加", "えんとりー", "出たい", "受けたい", "入れて"),
    "where": ("どこ", "場所", "近く", "近い", "住所", "行き方", "ばしょ"),
    "when": ("いつ", "何時", "何曜", "曜日", "日程", "予定", "時間"),
    "how": (
        "どうやって",
        "どうすれば",
        "どうしたら",
        "方法",
        "仕方",
        "やり方",
        "出し方",
        "必要",
        "何がい",
        "いります",
        "いる?",
    ),
    "person": ("職員", "担当", "人と", "人に", "人間", "電話", "おぺれーたー", "すたっふ"),
}


def cue_features(folded: str) -> list[str]:
    return [f"q:{name}" for name, words in CUES.items() if any(w in folded for w in words)]


@dataclass(frozen=True)
class Analysis:
    text: str
    normalised: Normalised
    folded: str
    tokens: list[Token]
    entities: list[Entity]

    @property
    def has_content(self) -> bool:
        return has_content(self.normalised.text)


def analyse(text: str, gazetteer: Gazetteer, reference_time: datetime | None = None) -> Analysis:
    head = text[:MAX_ANALYSED_CHARS]
    normalised = normalise_with_map(head)
    tokens = tokenize(normalised.text)
    folded = to_hiragana(normalised.text)
    entities = extract(normalised, folded, gazetteer, reference_time, tokens)
    return Analysis(text, normalised, folded, tokens, entities)


def _ngrams(prefix: str, text: str, sizes: tuple[int, ...]) -> list[str]:
    out: list[str] = []
    for n in sizes:
        out.extend(f"{prefix}{text[i : i + n]}" for i in range(len(text) - n + 1))
    return out


def _is_kanji(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or ch == "々"


def intent_features(analysis: Analysis) -> list[str]:
    words = [t for t in analysis.tokens if t.pos not in _SKIP_POS]
    normals = [t.normal.lower() for t in words]
    features = [f"w:{n}" for n in normals]
    features.extend(f"b:{a}|{b}" for a, b in pairwise(normals))
    compact = "".join(t.surface for t in words)
    features.extend(_ngrams("c:", compact, (2, 3)))
    features.extend(f"k:{ch}" for ch in compact if _is_kanji(ch))
    key = phonetic_key("".join(t.reading for t in words))
    features.extend(_ngrams("p:", key, (2, 3)))
    features.extend(cue_features(analysis.folded))
    for entity in analysis.entities:
        features.append(f"e:{entity.entity}")
        if entity.extractor == "madoguchi.lookup":
            features.append(f"v:{entity.value}")
    return features


def content_tokens(analysis: Analysis) -> list[Token]:
    return [
        t for t in analysis.tokens if t.pos in _CONTENT_POS and t.normal not in STOPWORDS and t.surface not in STOPWORDS
    ]


def faq_features(analysis: Analysis) -> list[str]:
    """Topic words only: what the question is about, not how it is asked."""
    content = content_tokens(analysis)
    features = [f"w:{t.normal.lower()}" for t in content]
    key = "".join(phonetic_key(t.reading) for t in content)
    features.extend(_ngrams("p:", key, (2, 3)))
    for token in content:
        surface = token.surface
        features.extend(_ngrams("c:", surface, (2,)) if len(surface) > 1 else [f"c:{surface}"])
    features.extend(f"v:{e.value}" for e in analysis.entities if e.extractor == "madoguchi.lookup")
    return features


def dense_features(analysis: Analysis, vectors: WordVectors) -> np.ndarray:
    """The mean word vector of the topic words (normalised form first, then as written)."""
    return vectors.mean((t.normal, t.surface, t.normal.lower()) for t in content_tokens(analysis))
