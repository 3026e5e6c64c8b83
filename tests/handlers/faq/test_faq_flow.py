"""FAQ end to end through the LINE sandbox, on SQLite and PostgreSQL: a question in, the answer out
in short paragraphs with the official page and feedback buttons; 「もしかして…」 candidates when
unsure; an honest "わかりません" that is recorded for staff; feedback stored; the index following
staff edits without a restart."""

from __future__ import annotations

from sqlalchemy import select

from bot.capabilities import load as load_capabilities
from bot.catalog import t
from handlers.faq import service as faq_service
from handlers.faq.flow import answer_text
from handlers.faq.models import FaqEntryCreate, FaqEntryUpdate, FaqFeedback, UnansweredQuestion
from tests.support import LiveApp, fields, live_app, new_citizen, quick_replies, say, tap


def test_a_question_gets_its_answer_with_feedback_buttons(faq_app: LiveApp) -> None:
    user = new_citizen(faq_app)
    message = say(faq_app, user, "粗大ごみを出したいのですが、どうしたらいいですか")
    with faq_app.db.session() as db_session:
        entry = faq_service.get(db_session=db_session, faq_id="sodai_gomi")
        assert entry is not None
        assert message["text"] == answer_text(entry)
    buttons = quick_replies(message)
    assert [b["label"] for b in buttons] == [t("faq.helpful_button"), t("faq.not_helpful_button")]
    assert [fields(b) for b in buttons] == [
        {"action": "faq_feedback", "id": "sodai_gomi", "helpful": "1"},
        {"action": "faq_feedback", "id": "sodai_gomi", "helpful": "0"},
    ]


def test_an_answer_reads_in_short_paragraphs_and_ends_with_the_official_page(faq_app: LiveApp) -> None:
    with faq_app.db.session() as db_session:
        entry = faq_service.get(db_session=db_session, faq_id="sodai_gomi")
        assert entry is not None and "\n" not in entry.answer  # the seed's answers are one block each
        sentences = entry.answer.count("。")
        faq_service.update(
            db_session=db_session,
            faq_entry=entry,
            faq_in=FaqEntryUpdate(url="https://www.city.setouchi.lg.jp/sample/sodai"),
        )
    text = say(faq_app, new_citizen(faq_app), "粗大ごみを出したいのですが、どうしたらいいですか")["text"]
    heading, *paragraphs, closing = text.split("\n\n")
    assert heading.startswith("「") and closing == "この回答はお役に立ちましたか？"
    *answer, link = paragraphs
    assert len(answer) == sentences >= 3  # a sentence a paragraph, not one dense block
    assert all(p.endswith("。") and "\n" not in p for p in answer)
    assert link == "くわしくは、こちらのページをご覧ください。\nhttps://www.city.setouchi.lg.jp/sample/sodai"

    # An answer staff broke into lines themselves (a list) is shown as they wrote it.
    with faq_app.db.session() as db_session:
        entry = faq_service.get(db_session=db_session, faq_id="sodai_gomi")
        assert entry is not None
        faq_service.update(
            db_session=db_session,
            faq_entry=entry,
            faq_in=FaqEntryUpdate(answer="申し込みは電話で。\n・品目\n・個数\n\n\n\n収集日に出してください。", url=""),
        )
    text = say(faq_app, new_citizen(faq_app), "粗大ごみを出したいのですが、どうしたらいいですか")["text"]
    assert "申し込みは電話で。\n・品目\n・個数\n\n収集日に出してください。\n\nこの回答は" in text
    assert "https://" not in text


def test_feedback_is_stored_per_faq_and_a_second_tap_replaces_the_first(faq_app: LiveApp) -> None:
    user = new_citizen(faq_app)
    helpful, not_helpful = quick_replies(say(faq_app, user, "印鑑証明がほしいです"))
    assert tap(faq_app, user, helpful["data"])["text"] == t("faq.thanks_helpful")
    answer = tap(faq_app, user, not_helpful["data"])
    assert answer["text"] == t("faq.thanks_not_helpful")
    assert "handoff" in [fields(b).get("name") for b in quick_replies(answer)]  # a way to reach a person
    with faq_app.db.session() as db_session:
        rows = db_session.scalars(select(FaqFeedback)).all()
        assert [(r.faq_id, r.line_user_id, r.helpful) for r in rows] == [("inkan_shomei", user, False)]
        summary = faq_service.feedback_summary(db_session=db_session)
        assert [(s.faq_id, s.helpful, s.not_helpful) for s in summary] == [("inkan_shomei", 0, 1)]


def test_an_unsure_question_gets_candidates_and_a_choice_gets_its_answer(faq_app: LiveApp) -> None:
    user = new_citizen(faq_app)
    message = say(faq_app, user, "マイナンバーカード")
    assert message["text"].startswith("もしかして")
    buttons = quick_replies(message)
    ids = [fields(b).get("id") for b in buttons[:-1]]
    assert set(ids) == {"mynumber_apply", "mynumber_receive", "mynumber_pin_reset"}
    assert all(len(b["label"]) <= 20 for b in buttons)
    assert fields(buttons[-1]) == {"action": "faq_none"}
    chosen = next(b for b in buttons if fields(b).get("id") == "mynumber_pin_reset")
    answer = tap(faq_app, user, chosen["data"])
    with faq_app.db.session() as db_session:
        entry = faq_service.get(db_session=db_session, faq_id="mynumber_pin_reset")
        assert entry is not None
        assert answer["text"] == answer_text(entry)


def test_none_of_the_candidates_records_the_question(faq_app: LiveApp) -> None:
    user = new_citizen(faq_app)
    buttons = quick_replies(say(faq_app, user, "マイナンバーカード"))
    answer = tap(faq_app, user, buttons[-1]["data"])
    assert answer["text"] == t("faq.unknown")
    with faq_app.db.session() as db_session:
        assert [(q.text, q.count) for q in faq_service.get_all_unanswered(db_session=db_session)] == [
            ("マイナンバーカード", 1)
        ]


def test_nonsense_gets_an_honest_i_dont_know_and_is_recorded_with_count_and_last_asked(faq_app: LiveApp) -> None:
    user = new_citizen(faq_app)
    answer = say(faq_app, user, "ぴよぴよぴよ")
    assert answer["text"] == t("faq.unknown")
    assert "わかりません" in answer["text"]
    labels = [b["label"] for b in quick_replies(answer)]
    assert t("menu.handoff") in labels and t("menu.reservation_make") in labels
    say(faq_app, new_citizen(faq_app), "ぴよぴよ　ぴよ")  # the same question, written a little differently
    with faq_app.db.session() as db_session:
        [row] = db_session.scalars(select(UnansweredQuestion)).all()
        assert (row.text, row.count, row.best_faq_id is not None) == ("ぴよぴよぴよ", 2, True)
        assert row.last_asked_at > row.first_asked_at


def test_the_same_unanswered_question_is_counted_not_duplicated(faq_app: LiveApp) -> None:
    for _ in range(2):
        say(faq_app, new_citizen(faq_app), "選挙の投票所を知りたい")
    with faq_app.db.session() as db_session:
        rows = faq_service.get_all_unanswered(db_session=db_session)
        assert [(r.text, r.count) for r in rows] == [("選挙の投票所を知りたい", 2)]
        assert rows[0].last_asked_at > rows[0].first_asked_at


def test_the_menu_button_asks_for_the_question_then_answers_it(faq_app: LiveApp) -> None:
    user = new_citizen(faq_app)
    assert tap(faq_app, user, "action=intent&name=faq")["text"] == t("faq.prompt_with_topics")
    answer = say(faq_app, user, "図書館のカードを作りたい")
    assert "図書館" in answer["text"] and quick_replies(answer)[0]["label"] == t("faq.helpful_button")


def test_without_typing_a_topic_then_a_question_shows_the_answer(faq_app: LiveApp) -> None:
    """Issue 17, item 6: seniors who cannot type find the answers by buttons: topics, then questions."""
    user = new_citizen(faq_app)
    prompt = tap(faq_app, user, "action=intent&name=faq")
    topics = [a["label"] for a in quick_replies(prompt)]
    assert "子育て" in topics and "ごみ・環境" in topics and 1 < len(topics) <= 13
    listed = tap(faq_app, user, next(a for a in quick_replies(prompt) if a["label"] == "子育て")["data"])
    with faq_app.db.session() as db_session:
        questions = [e.question for e in faq_service.get_all(db_session=db_session) if e.category == "子育て"]
    assert listed["text"].startswith("「子育て」のよくある質問です。")
    assert all(q in listed["text"] for q in questions) and len(quick_replies(listed)) == len(questions)
    answer = tap(faq_app, user, quick_replies(listed)[0]["data"])
    assert answer["text"].startswith(f"「{questions[0]}」") or questions[0] in answer["text"]
    assert quick_replies(answer)[0]["label"] == t("faq.helpful_button")


def test_a_capability_not_built_yet_is_answered_from_the_faq_when_it_can_be(database_url: str) -> None:
    # A deployment without the GIS, classes, ... capabilities: only the FAQ and the welcome desk.
    with live_app(database_url, capabilities=load_capabilities(("handlers.faq", "handlers.welcome"))) as app:
        with app.db.session() as db_session:
            faq_service.seed(db_session=db_session)
        _answers_information_from_the_faq(app)


def _answers_information_from_the_faq(faq_app: LiveApp) -> None:
    user = new_citizen(faq_app)
    answer = say(faq_app, user, "市役所は何時まで開いていますか")  # facility_search
    with faq_app.db.session() as db_session:
        entry = faq_service.get(db_session=db_session, faq_id="office_hours")
        assert entry is not None
        assert answer["text"] == answer_text(entry)
    # A request to do something is never answered from the FAQ (its text would describe a service
    # the citizen cannot use yet): the welcome desk's honest answer stays.
    signup = say(faq_app, user, "お知らせの配信を止めたい")
    assert "faq_feedback" not in str(signup) and "ご案内です" not in signup["text"]


def test_out_of_scope_gets_a_kind_not_here(faq_app: LiveApp) -> None:
    user = new_citizen(faq_app)
    assert say(faq_app, user, "明日の天気はどうですか")["text"] == t("faq.out_of_scope")
    assert say(faq_app, user, "😀😀")["text"] == t("faq.out_of_scope")
    with faq_app.db.session() as db_session:
        assert faq_service.get_all_unanswered(db_session=db_session) == []


def test_the_index_follows_staff_edits_without_a_restart(faq_app: LiveApp) -> None:
    user = new_citizen(faq_app)
    question = "ドローンを飛ばす許可はどこで取れますか"
    assert say(faq_app, user, question)["text"] == t("faq.unknown")
    with faq_app.db.session() as db_session:
        faq_service.create(
            db_session=db_session,
            faq_in=FaqEntryCreate(
                id="drone",
                category="その他",
                question="ドローンを飛ばしたいのですが、許可はどこで取れますか？",
                alt_questions=["公園でドローンを使ってもいいですか？"],
                answer="（サンプル）ドローンの飛行許可は国土交通省への申請が必要です。",
                tags=["ドローン"],
            ),
        )
    first = say(faq_app, user, question)
    assert "国土交通省" in first["text"]
    with faq_app.db.session() as db_session:
        entry = faq_service.get(db_session=db_session, faq_id="drone")
        assert entry is not None
        faq_service.update(
            db_session=db_session,
            faq_entry=entry,
            faq_in=FaqEntryUpdate(answer="（サンプル）まず危機管理課にご相談ください。"),
        )
    assert "危機管理課" in say(faq_app, user, question)["text"]
    with faq_app.db.session() as db_session:
        entry = faq_service.get(db_session=db_session, faq_id="drone")
        assert entry is not None
        faq_service.deactivate(db_session=db_session, faq_entry=entry)
    assert say(faq_app, user, question)["text"] == t("faq.unknown")


def test_old_or_forged_buttons_are_checked(faq_app: LiveApp) -> None:
    user = new_citizen(faq_app)
    assert tap(faq_app, user, "action=faq&id=no_such_entry")["text"] == t("faq.gone")
    assert tap(faq_app, user, "action=faq&id=../../etc")["text"] == t("faq.gone")
    assert tap(faq_app, user, "action=faq_feedback&id=sodai_gomi&helpful=maybe")["text"] == t("faq.gone")
    with faq_app.db.session() as db_session:
        assert db_session.scalars(select(FaqFeedback)).all() == []
