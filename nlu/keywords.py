"""A keyword engine: the stand-in behind nlu.parse until the trained engine replaces it.

It matches normalised text against short keyword lists; the first list that matches wins.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from nlu.result import IntentScore, ParseResult

# Order matters: more specific intents first (「予約 取り消し」 before 「予約」).
KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reservation_cancel", ("予約取り消", "予約をキャンセル", "予約キャンセル", "予約を取り消", "予約をやめ")),
    ("reservation_check", ("予約確認", "予約の確認", "予約を確認", "qrコード", "予約した")),
    ("reservation_make", ("予約", "窓口", "転入", "転出", "住民票を取りに")),
    ("class_signup", ("教室に申し込", "教室を申し込", "教室の申し込", "教室に参加")),
    ("class_info", ("スマホ教室", "スマホ", "教室")),
    ("shelter_search", ("避難所", "避難場所", "避難")),
    ("aed_search", ("aed",)),
    ("garbage_day", ("ごみ", "ゴミ")),
    ("facility_search", ("施設", "公民館", "図書館", "支所", "市役所", "開館")),
    ("unsubscribe", ("配信停止", "配信をやめ", "通知をやめ")),
    ("subscribe", ("配信", "お知らせ", "通知")),
    ("handoff", ("職員", "担当者", "人と話", "電話したい")),
    ("thanks", ("ありがとう", "助かりました", "どうも")),
    ("greet", ("こんにちは", "こんばんは", "おはよう", "はじめまして")),
    ("help", ("ヘルプ", "メニュー", "使い方", "何ができ")),
)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().replace(" ", "").replace("　", "")


class KeywordEngine:
    name = "keywords"

    def parse(self, text: str, reference_time: datetime | None = None) -> ParseResult:
        norm = normalise(text)
        for intent, words in KEYWORDS:
            if any(word in norm for word in words):
                score = IntentScore(name=intent, confidence=0.9)
                return ParseResult(text=text, intent=score, intent_ranking=[score])
        score = IntentScore(name="out_of_scope", confidence=0.3)
        return ParseResult(text=text, intent=score, intent_ranking=[score])
