"""Normalisation: widths, kana, stretched vowels, typos, and the map back to the original text."""

from __future__ import annotations

import pytest

from nlu.normalize import has_content, normalise, normalise_with_map, phonetic_key, to_hiragana


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１２月３日", "12月3日"),
        ("ＡＥＤ", "aed"),
        ("ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ", "マイナンバーカード"),
        ("ｶﾞｲﾄﾞ", "ガイド"),
        ("ありがとう〜〜〜", "ありがとうー"),
        ("すごい！！！", "すごい!"),
        ("住民表がほしい", "住民票がほしい"),
        ("こんにちわ", "こんにちは"),
        ("予約\u200bしたい", "予約したい"),
        ("予約\x00\x07したい", "予約したい"),
        ("10〜12時", "10-12時"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_offsets_map_back_to_the_original_text() -> None:
    raw = "ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞを作りたい"
    norm = normalise_with_map(raw)
    start = norm.text.index("マイナンバーカード")
    first, last = norm.span(start, start + len("マイナンバーカード"))
    assert raw[first:last] == "ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ"
    assert len(norm.source) == len(norm.text)


def test_a_corrected_typo_keeps_the_original_span() -> None:
    raw = "わたしの住民表"
    norm = normalise_with_map(raw)
    start = norm.text.index("住民票")
    assert norm.span(start, start + 3) == (4, 7)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ジュウミンヒョウ", "じゅーみんひょー"),
        ("ありがとう", "ありがとぉ"),
        ("ヒナンジョ", "ひなんしょ"),
        ("せんせい", "センセー"),
    ],
)
def test_phonetic_key_makes_sound_alikes_meet(a: str, b: str) -> None:
    assert phonetic_key(a) == phonetic_key(b)


def test_kana_helpers() -> None:
    assert to_hiragana("ヨヤク") == "よやく"
    assert has_content("予約") and has_content("abc") and has_content("12")
    assert not has_content("😀😀!!") and not has_content("   ")
