"""Where a few words decide what the topic words cannot: the classifier's best intent is overruled
in a few cases, each a mistake citizens met.

- Withdrawal wins over the topic: 「防災の通知を切ってほしい」 names the topic of subscribing but asks
  to stop. When the best intent is a request to start something and the message says stop, leave,
  cancel or "not needed" in any style, the matching request to stop it is taken instead. Saying
  "again" (「また受け取りたい」) keeps (or makes) it a start.
- A question about a service is not a request for it: 「…の受け取りに予約はいりますか？」 asks whether a
  booking is needed; 「市役所は何時から開いとるん？」 asks for the office's hours, not a map. Both are
  FAQ questions. (A library's hours come on its facility card, so those stay a search.)
- 粗大ごみ has no weekday: it is collected on application, which the FAQ explains.
- Asking where or to whom to report (「危ない所の報告ってどこに？」) is a FAQ question, not a request
  for the forms list: the FAQ's answer names the office and offers the form (「LINEで報告する」).
"""

from __future__ import annotations

import re

from nlu.result import IntentScore

# A request to start -> the request to stop it.
OPPOSITES = {
    "subscribe": "unsubscribe",
    "reservation_make": "reservation_cancel",
    "class_signup": "class_cancel",
    "class_info": "class_cancel",
}
# Matched on the normalised text folded to hiragana.
WITHDRAWAL = (
    "取り消",
    "取消",
    "とりけ",
    "きゃんせる",
    "やめ",
    "止め",
    "とめて",
    "とめたい",
    "とめとい",
    "停止",
    "ていし",
    "解除",
    "退会",
    "解約",
    "抜け",
    "ぬけ",
    "抜かせ",
    "外して",
    "はずして",
    "消して",
    "けして",
    "消去",
    "削除",
    "いらな",
    "いらん",
    "要らな",
    "要らん",
    "いりません",
    "不要",
    "結構です",
    "切って",
    "切りた",
    "切れる",
    "辞退",
    "行けな",
    "行けん",
    "行けませ",
    "行かれん",
    "行かれな",
    "いけな",
    "いけん",
    "いけませ",
    "出られな",
    "出れな",
    "来られな",
    "参加できな",
    "出席できな",
    "ぱす",
    "取りやめ",
    "とりやめ",
    "すとっぷ",
    "受け取らな",
    "送らないで",
    "送らんで",
    "来ないように",
    "こないように",
    "届かないように",
)
# Coming back: 「止めていた配信をまた受け取りたい」 is a start.
RESUMPTION = (
    "また受",
    "また届",
    "また送",
    "またもら",
    "再開",
    "もう一度受",
    "もう一回受",
    "再び",
    "ふたたび",
    "戻して",
    "もどして",
)


def says_resumption(folded: str) -> bool:
    return any(w in folded for w in RESUMPTION)


def says_withdrawal(folded: str) -> bool:
    return any(w in folded for w in WITHDRAWAL) and not says_resumption(folded)


# 「予約はいりますか」「予約って必要？」: whether a booking is needed, a rule of the procedure.
_ASKS_IF_NEEDED = re.compile(
    r"予約(は|が|って|とか|も)?(必要|いります|要ります|いる[のん?]|要る|いるか|要るか|いり|要り)"
)
# When something is open (not where it is): 何時から, 何曜, 開いて, 閉まる, やっとる...
_ASKS_WHEN = re.compile(
    r"何時|なんじ|何曜|なんよう|いつ|開い|あい(て|と)|開く|あく[?の]|閉ま|しま(る|っ)|営業|やって|やっと|時間|土日|祝日|年末|年始"
)
_ASKS_WHERE = re.compile(r"どこ|場所|ばしょ|行き方|道順|地図|近く|住所|どっち")
_REQUESTS = ("reservation_make", "class_signup")
# Where or to whom: 「どこに言えば」「誰に連絡したら」 (「どうしたら」 may well ask for the form itself).
_ASKS_WHERE_TO = re.compile(r"どこ(に|へ|で|って)|誰に|だれに|どちらに|どなたに")
# The city office's hours are a FAQ answer; other facilities' hours come on their map card.
_CITY_OFFICE = ("市役所", "役所", "役場", "本庁", "支所", "窓口", "しやくしょ")


def _first(ranking: list[IntentScore], name: str) -> list[IntentScore]:
    rest = [s for s in ranking if s.name != name]
    return [IntentScore(name=name, confidence=ranking[0].confidence), *rest]


def adjust(ranking: list[IntentScore], folded: str) -> list[IntentScore]:
    """The ranking with the overruled intent first (see the module's docstring)."""
    if not ranking:
        return ranking
    best = ranking[0].name
    if best in OPPOSITES and says_withdrawal(folded):
        return _first(ranking, OPPOSITES[best])
    if best == "unsubscribe" and says_resumption(folded):
        return _first(ranking, "subscribe")
    if best in _REQUESTS and _ASKS_IF_NEEDED.search(folded):
        return _first(ranking, "faq")
    if (
        best == "facility_search"
        and any(w in folded for w in _CITY_OFFICE)
        and _ASKS_WHEN.search(folded)
        and not _ASKS_WHERE.search(folded)
    ):
        return _first(ranking, "faq")
    if best == "form_list" and _ASKS_WHERE_TO.search(folded):
        return _first(ranking, "faq")
    if best == "garbage_day" and "粗大" in folded:
        return _first(ranking, "faq")
    return ranking
