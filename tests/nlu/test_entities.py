"""Entities from lookups and synonyms, with canonical values and true offsets."""

from __future__ import annotations

import pytest

from nlu import parse
from tests.nlu.conftest import REFERENCE


@pytest.mark.parametrize(
    ("text", "entity", "value", "surface"),
    [
        ("転入の手続き", "procedure", "転入届", "転入"),
        ("住民票の写しがほしい", "procedure", "住民票", "住民票の写し"),
        ("いんかんしょうめいがいる", "procedure", "印鑑登録", "いんかんしょうめい"),
        ("マイナカードを作りたい", "procedure", "マイナンバーカード", "マイナカード"),
        ("ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞの受け取り", "procedure", "マイナンバーカード", "ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ"),
        ("戸籍謄本を郵送で", "procedure", "戸籍", "戸籍謄本"),
        ("児童手当の申請", "procedure", "児童手当", "児童手当"),
        ("要介護認定を受けたい", "procedure", "介護保険", "要介護認定"),
        ("牛窓町の避難所", "district", "牛窓", "牛窓町"),
        ("おさふねのごみの日", "district", "長船", "おさふね"),
        ("邑久の公民館", "district", "邑久", "邑久"),
        ("大雨のときの避難場所", "hazard", "洪水", "大雨"),
        ("土砂崩れが心配", "hazard", "土砂災害", "土砂崩れ"),
        ("ツナミが来たら", "hazard", "津波", "ツナミ"),
        ("高潮の避難先", "hazard", "高潮", "高潮"),
        ("地震のとき", "hazard", "地震", "地震"),
        ("ＡＥＤはどこ", "facility_type", "AED", "ＡＥＤ"),
        ("図書館は何時まで", "facility_type", "図書館", "図書館"),
        ("本庁の場所", "facility_type", "市役所", "本庁"),
    ],
)
def test_lookup_entities(text: str, entity: str, value: str, surface: str) -> None:
    found = [e for e in parse(text, REFERENCE).entities if e.entity == entity]
    assert [(e.value, text[e.start : e.end]) for e in found] == [(value, surface)]


def test_district_and_office_in_one_word() -> None:
    result = parse("牛窓支所で住民票", REFERENCE)
    assert result.entity("district") == "牛窓"
    assert result.entity("facility_type") == "支所"
    assert result.entity("procedure") == "住民票"


def test_entities_carry_rasa_fields() -> None:
    entity = parse("明日、転出届を出したい", REFERENCE).to_rasa()["entities"][0]
    assert set(entity) == {"entity", "value", "start", "end", "extractor"}
