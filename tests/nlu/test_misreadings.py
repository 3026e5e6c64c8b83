"""The kinds of message the city found misread on its own sets, each a case (our own examples, not
the city's): withdrawal read as joining, casual class sign-ups and cancellations, chit-chat claimed
by the FAQ, words hidden inside words, places below the district, FAQ paraphrases that share few
words with their entry, and questions about a service taken as requests for it."""

from __future__ import annotations

import json

import pytest

from handlers.gis.service.places import TOWNS_FILE
from nlu.dates import find_dates
from nlu.embedded import EmbeddedEngine
from nlu.faq import Decision, FaqIndex, decide, load_seed
from nlu.moving import says_move_without_direction
from nlu.training_data import load_training
from tests.nlu.conftest import REFERENCE


@pytest.fixture(scope="module")
def faq_index(engine: EmbeddedEngine) -> FaqIndex:
    return FaqIndex.build(load_seed(), engine.analyse)


def intent(engine: EmbeddedEngine, text: str) -> str:
    return engine.parse(text, REFERENCE).intent.name


@pytest.mark.parametrize(
    "text",
    [
        "グループ抜けます",
        "防災の通知、もういらないです",
        "登録やめたい",
        "子育てのお知らせはもう結構です、止めてください",
        "防災の通知を切ってほしい",
        "愛育委員のグループから外してください",
        "ぼうさいのつうちとめてくれんかのう",
    ],
)
def test_withdrawal_wins_over_the_topic_words(engine: EmbeddedEngine, text: str) -> None:
    assert intent(engine, text) == "unsubscribe"


def test_asking_for_notices_again_is_joining(engine: EmbeddedEngine) -> None:
    assert intent(engine, "止めとった防災の配信、また受け取りたいんです") == "subscribe"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("教室の席とっといて", "class_signup"),
        ("スマホ教室、次のに入れといてくれる？", "class_signup"),
        ("今回は行けんけぇ、やめときます", "class_cancel"),
        ("スマホ教室、用事ができたので休みます", "class_cancel"),
        ("スマホ教室はいつありますか", "class_info"),
    ],
)
def test_class_sign_up_and_cancel_said_casually(engine: EmbeddedEngine, text: str, expected: str) -> None:
    assert intent(engine, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "彼氏とけんかしたんだけど、どうしたら仲直りできる？",
        "昨日の阪神の試合どうなった？",
        "今日のドル円いくら？",
        "一週間で3キロやせる方法",
        "新しいスマホ買うならどれがおすすめ？",
        "動画見せて",
        "息子が反抗期でこまっとるんよ",
    ],
)
def test_chit_chat_is_not_answered_from_the_faq(engine: EmbeddedEngine, faq_index: FaqIndex, text: str) -> None:
    parsed = engine.parse(text, REFERENCE)
    if parsed.intent.name != "out_of_scope":
        assert parsed.intent.name == "faq", parsed.intent
        assert decide(faq_index.ask(text)) is not Decision.ANSWER


def test_date_words_count_only_on_word_boundaries() -> None:
    assert find_dates("すまほきょうしつ", REFERENCE) == []
    assert find_dates("すまほきょうしつにもうしこみたい", REFERENCE) == []
    assert find_dates("あしたばの天ぷら", REFERENCE) == []
    [today] = find_dates("きょうはあいてますか", REFERENCE)
    assert today.value == "2026-11-24"
    [tomorrow] = find_dates("あしたよやくしたい", REFERENCE)
    assert tomorrow.value == "2026-11-25"
    assert find_dates("一時避難場所はどこ", REFERENCE) == []  # 一時 = temporary, not one o'clock


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("千手の避難所", "牛窓"),
        ("尻海でAEDある？", "邑久"),
        ("長船町福岡のごみの日", "長船"),
        ("西須恵に住んどる", "長船"),
        ("前島のごみの日", "牛窓"),
    ],
)
def test_places_below_the_district_yield_their_district(engine: EmbeddedEngine, text: str, district: str) -> None:
    values = [e.value for e in engine.parse(text, REFERENCE).entities if e.entity == "district"]
    assert values == [district]


def test_every_oaza_the_project_ships_is_a_district_synonym() -> None:
    """nlu.yml's 大字 synonyms follow the GIS towns file (nlu/ reads no project data at run time)."""
    synonyms = load_training().synonyms
    for town in json.loads(TOWNS_FILE.read_text(encoding="utf-8")):
        name: str = town["town"]
        district = name[:2]
        assert synonyms.get(name, district if name[3:] == district else None) == district, name


@pytest.mark.parametrize(
    ("text", "faq_id"),
    [
        ("うちの子（わんちゃん）を飼い始めたんですが、市に何か届けがいりますか", "dog_registration"),
        ("おめでたがわかりました。まず何をすればいいですか", "boshi_techo"),
        ("こっちに来たばかりなんですが、住所の手続きは何を持って行けば", "tennyu_todoke"),
        ("税金を自動で払えるようにしたい", "tax_koza_furikae"),
        ("固定資産税ってQR決済で払える？", "tax_payment_methods"),
        ("マイナカードの暗証番号を忘れてしもうた", "mynumber_pin_reset"),
        ("畑にサルが出て困っとる", "yugai_choju"),
        ("通学路の側溝のふたが外れて危ない", "tsugakuro_kiken"),
        ("ちちのかわりにじゅうみんひょうをとりにいってもいいですか", "juminhyo_copy"),
        ("祖母の件で、介護のサービスを受けたいんですが何から", "kaigo_hoken_apply"),
        ("戸籍謄本って郵送でも頼めますか", "koseki_tohon"),
    ],
)
def test_faq_paraphrases_that_share_few_words_with_their_entry(
    engine: EmbeddedEngine, faq_index: FaqIndex, text: str, faq_id: str
) -> None:
    assert intent(engine, text) == "faq"
    assert faq_index.ask(text).faq_id == faq_id


@pytest.mark.parametrize(
    "text",
    [
        "マイナンバーカードの受け取りに予約はいりますか？",
        "ワクチンの予約",
        "粗大ごみは何曜日？",
        "市役所は何時から開いとるん？",
        "支所は土曜日も開いてますか",
        "通学路の危ないところの報告って、どこに言えばええん？",
        "通報したいけど、誰に連絡したらいいですか",
    ],
)
def test_questions_about_a_service_are_not_requests_for_it(engine: EmbeddedEngine, text: str) -> None:
    assert intent(engine, text) == "faq"


@pytest.mark.parametrize(
    "text",
    [
        "ちょっと通報したいんですけど",
        "アンケートに回答したいです",
        "市役所に報告したいことがあるんよ",
        "つうほうさせてください",
    ],
)
def test_asking_to_report_or_answer_a_survey_is_the_forms_list(engine: EmbeddedEngine, text: str) -> None:
    """Not 配信設定 (「通報したい」 was read as subscribe) nor a person: the list of 申請・通報."""
    assert intent(engine, text) == "form_list"


def test_a_move_without_a_direction_is_recognised() -> None:
    assert says_move_without_direction("来月引っ越す")
    assert says_move_without_direction("ひっこしのてつづき")
    for said in (
        "岡山市に引っ越します",
        "市内で引っ越しました",
        "東京から引っ越してきた",
        "転出届を出したい",
        "予約したい",
    ):
        assert not says_move_without_direction(said), said
