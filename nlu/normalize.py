"""Japanese normalisation, with a map back to the citizen's original characters.

Citizens write the same word many ways: 全角/半角 (ＡＥＤ, ｱｲｳ, １２), katakana or hiragana,
long vowels spelled out or stretched (ありがとー, ありがとぉ, ありがとう〜〜), small kana for
effect, and a few frequent typos (住民表 for 住民票). Two forms are derived here:

- `normalise(text)`: NFKC, lower case, wave dashes and stretched vowels folded, typos fixed. Its
  characters map back to positions in the original text, so entities keep true start/end offsets.
- `phonetic_key(reading)`: a sound-alike key over kana (hiragana, no voicing marks, small kana made
  large, long vowels written ー), so 「ひなんじょ」 and 「避難所」 (read ひなんしょ) meet.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Frequent miswritings of words that matter here (same reading, wrong kanji, or slips).
TYPOS: dict[str, str] = {
    "住民表": "住民票",
    "住民标": "住民票",
    "印鑑証名": "印鑑証明",
    "印監": "印鑑",
    "避難書": "避難所",
    "非難所": "避難所",
    "避難場書": "避難場所",
    "予訳": "予約",
    "預約": "予約",
    "マイナンバカード": "マイナンバーカード",
    "マイナンバーカド": "マイナンバーカード",
    "まいなんばー": "マイナンバー",
    "こんにちわ": "こんにちは",
    "こんばんわ": "こんばんは",
    "ありがとうごさいます": "ありがとうございます",
    "ありがとございます": "ありがとうございます",
    "介譲": "介護",
    "粗大ゴミ": "粗大ごみ",
    "スマートホン": "スマートフォン",
    "スマホン": "スマホ",
}

# Every dash-like character that stands for a long vowel or a range in casual writing.
_WAVES = "~〜～∼〰−‐―─━ｰ-"
_SMALL = str.maketrans(
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ", "あいうえおつやゆよわかけアイウエオツヤユヨワカケ"
)
_VOICED = "がぎぐげござじずぜぞだぢづでどばびぶべぼぱぴぷぺぽゔ"
_PLAIN = "かきくけこさしすせそたちつてとはひふへほはひふへほう"
_UNVOICE = str.maketrans(_VOICED, _PLAIN)
_KATA_START, _KATA_END = ord("ァ"), ord("ヶ")

# The vowel each hiragana ends with, for spotting long vowels (おう, ええ, いい...).
_VOWEL_ROWS = {
    "a": "あかさたなはまやらわがざだばぱ",
    "i": "いきしちにひみりぎじぢびぴ",
    "u": "うくすつぬふむゆるぐずづぶぷゔ",
    "e": "えけせてねへめれげぜでべぺ",
    "o": "おこそとのほもよろをごぞどぼぽ",
}
_VOWEL = {ch: vowel for vowel, chars in _VOWEL_ROWS.items() for ch in chars}
# After a kana with vowel V, these letters only lengthen it (「とう」 = とー, 「せい」 = せー).
_LENGTHENS = {"a": "あ", "i": "い", "u": "う", "e": "いえ", "o": "うお"}

_CONTROL = re.compile(r"[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")


@dataclass(frozen=True)
class Normalised:
    """Normalised text and, for each of its characters, where it came from in the original:
    `source[i]` is the first original character, `ends[i]` one past the last (ｶﾞ → ガ spans two)."""

    text: str
    source: tuple[int, ...]
    ends: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original text's [start, end) for the normalised [start, end)."""
        if not self.source or start >= len(self.source):
            last = self.ends[-1] if self.ends else 0
            return (last, last)
        return (self.source[start], self.ends[max(start, min(end, len(self.source)) - 1)])


def to_hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if _KATA_START <= ord(c) <= _KATA_END else c for c in text)


def _nfkc_chars(text: str) -> tuple[list[str], list[int], list[int]]:
    """NFKC one character at a time, remembering where each output character came from.

    Half-width kana with a separate voicing mark (ｶﾞ) become one character (ガ), as NFKC does on
    whole strings.
    """
    out: list[str] = []
    source: list[int] = []
    ends: list[int] = []
    for index, ch in enumerate(text):
        if _CONTROL.match(ch):
            # Control and zero-width characters: a space keeps words apart, nothing else survives.
            ch = " " if ch in "\t\n\r\u2028" else ""
        for piece in unicodedata.normalize("NFKC", ch):
            if unicodedata.combining(piece) and out:
                composed = unicodedata.normalize("NFC", out[-1] + piece)
                if len(composed) == 1:
                    out[-1] = composed
                    ends[-1] = index + 1
                    continue
            if piece in "\u3099\u309a\u309b\u309c" and out:
                # A stray voicing mark that could not combine: absorbed, not kept as noise.
                ends[-1] = index + 1
                continue
            out.append(piece)
            source.append(index)
            ends.append(index + 1)
    return out, source, ends


def _fold_stretch(chars: list[str], source: list[int], ends: list[int]) -> tuple[list[str], list[int], list[int]]:
    """Wave dashes to ー; runs of ー, ！, ？ and repeated small kana collapse to one."""
    out: list[str] = []
    src: list[int] = []
    end: list[int] = []
    for ch, index, stop in zip(chars, source, ends, strict=True):
        if ch in _WAVES:
            # A dash between two digits is a range or a date separator, not a long vowel.
            ch = "-" if out and out[-1].isdigit() else "ー"
        if out and ch == out[-1] and ch in "ー!?、。 ・…":
            end[-1] = stop
            continue
        out.append(ch)
        src.append(index)
        end.append(stop)
    return out, src, end


def _fix_typos(text: str, source: list[int], ends: list[int]) -> tuple[str, list[int], list[int]]:
    for wrong, right in TYPOS.items():
        start = text.find(wrong)
        while start != -1:
            # The corrected word maps onto the miswritten one's characters, stretched or squeezed.
            first, last = source[start], ends[start + len(wrong) - 1]
            mapped = [source[start + min(i, len(wrong) - 1)] for i in range(len(right))]
            mapped_ends = [*[ends[start + min(i, len(wrong) - 1)] for i in range(len(right) - 1)], last]
            mapped[0] = first
            text = text[:start] + right + text[start + len(wrong) :]
            source = source[:start] + mapped + source[start + len(wrong) :]
            ends = ends[:start] + mapped_ends + ends[start + len(wrong) :]
            start = text.find(wrong, start + len(right))
    return text, source, ends


def normalise_with_map(text: str) -> Normalised:
    chars, source, ends = _nfkc_chars(text)
    lowered = [c.lower() for c in chars]
    if any(len(c) != 1 for c in lowered):
        # A few letters lower-case to two characters (İ); keep one output character per input one.
        lowered = [c if len(c) == 1 else o for c, o in zip(lowered, chars, strict=True)]
    chars, source, ends = _fold_stretch(lowered, source, ends)
    joined, source, ends = _fix_typos("".join(chars), source, ends)
    return Normalised(joined, tuple(source), tuple(ends))


def normalise(text: str) -> str:
    return normalise_with_map(text).text


def phonetic_key(reading: str) -> str:
    """Sound-alike key over a kana reading: hiragana, no voicing marks, small kana large, long
    vowels as ー. 「ジュウミンヒョウ」→「しゆーみんひよー」, 「ありがとぉ」 = 「ありがとう」."""
    kana = to_hiragana(reading).translate(_SMALL)
    out: list[str] = []
    previous_vowel: str | None = None
    for ch in kana:
        if ch == "ー" or (previous_vowel is not None and ch in _LENGTHENS[previous_vowel]):
            if not out or out[-1] != "ー":
                out.append("ー")
            continue
        out.append(ch)
        previous_vowel = _VOWEL.get(ch)
    return "".join(out).translate(_UNVOICE)


def has_content(text: str) -> bool:
    """True when the text has at least one letter, digit, kana or kanji (not only emoji or marks)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)
