"""Pure rules, no database: the counter calendar (weekends, national holidays, 年末年始, the booking
window and cutoff), answers to the form's questions, and QR tokens."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
import zxingcpp
from PIL import Image

from bot import clock, qr
from bot.settings import load_settings
from handlers.reservations import calendar, forms
from handlers.reservations.forms import FIELDS, InvalidAnswer

SETTINGS = load_settings(secret_key="x" * 40)
RULES = [
    calendar.Rule((0, 1, 2, 3, 4), "09:00", "12:00", 30, 3),
    calendar.Rule((0, 1, 2, 3, 4), "13:00", "16:30", 30, 3),
]


@pytest.mark.parametrize(
    ("day", "open_"),
    [
        (date(2026, 11, 25), True),  # Wednesday
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 11, 29), False),  # Sunday
        (date(2026, 11, 23), False),  # 勤労感謝の日 (Monday)
        (date(2026, 5, 6), False),  # 振替休日 (substitute holiday for 憲法記念日 on a Sunday)
        (date(2026, 9, 22), False),  # 国民の休日 (between 敬老の日 and 秋分の日)
        (date(2026, 12, 28), True),  # last working day of the year
        (date(2026, 12, 29), False),  # 年末年始 begins
        (date(2026, 12, 31), False),
        (date(2027, 1, 1), False),
        (date(2027, 1, 4), True),  # first working day (Monday)
        (date(2027, 1, 11), False),  # 成人の日
    ],
)
def test_counter_days_know_weekends_holidays_and_the_year_end(day: date, open_: bool) -> None:
    assert calendar.is_counter_day(day) is open_


def test_slots_come_from_rules_inside_office_hours_and_not_on_closed_days() -> None:
    slots = calendar.slot_times(RULES, date(2026, 11, 25), opens="08:30", closes="17:15")
    assert [s.starts_at.strftime("%H:%M") for s in slots][:3] == ["09:00", "09:30", "10:00"]
    assert len(slots) == 6 + 7 and all(s.capacity == 3 for s in slots)
    assert slots[-1].ends_at.strftime("%H:%M") == "16:30" and slots[0].starts_at.tzinfo == clock.TOKYO
    # Office hours clip a rule; a holiday makes none.
    assert len(calendar.slot_times(RULES, date(2026, 11, 25), opens="10:00", closes="12:00")) == 4
    assert calendar.slot_times(RULES, date(2026, 11, 23)) == []


def test_booking_window_starts_tomorrow_and_closes_each_day_at_the_cutoff_the_day_before() -> None:
    morning = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)
    window = calendar.booking_window(morning, SETTINGS)
    assert window.first == date(2026, 11, 25) and window.last == date(2026, 12, 24)
    evening = datetime(2026, 11, 24, 17, 0, tzinfo=clock.TOKYO)  # the cutoff for Wednesday
    assert calendar.booking_window(evening, SETTINGS).first == date(2026, 11, 26)
    custom = load_settings(
        secret_key="x" * 40, reservation_window_days=7, reservation_cutoff_time="12:00", reservation_min_days_ahead=2
    )
    window = calendar.booking_window(morning, custom)
    assert (window.first, window.last) == (date(2026, 11, 26), date(2026, 12, 1))


@pytest.mark.parametrize(
    ("key", "typed", "stored"),
    [
        ("name", "　瀬戸内　花子　", "瀬戸内 花子"),
        ("furigana", "せとうち　はなこ", "セトウチ ハナコ"),
        ("furigana", "ｾﾄｳﾁ ﾊﾅｺ", "セトウチ ハナコ"),
        ("phone", "０９０－１２３４－５６７８", "09012345678"),
        ("phone", "(0869) 22-1111", "0869221111"),
        ("birth_date", "昭和25年4月1日", "1950-04-01"),
        ("birth_date", "S25.4.1", "1950-04-01"),
        ("birth_date", "平成元年1月8日", "1989-01-08"),
        ("birth_date", "１９５０／４／１", "1950-04-01"),
        ("birth_date", "19500401", "1950-04-01"),
        ("copies", "２通", "2"),
        ("copies", "三", "3"),
        ("insured_number", "０１２３４５６７８９", "0123456789"),
        ("address", "瀬戸内市邑久町尾張300-1", "瀬戸内市邑久町尾張300-1"),
    ],
)
def test_answers_are_cleaned_the_way_citizens_type_them(key: str, typed: str, stored: str) -> None:
    assert forms.clean(FIELDS[key], typed, today=date(2026, 11, 24)) == stored


@pytest.mark.parametrize(
    ("key", "typed"),
    [
        ("name", ""),
        ("name", "123"),
        ("furigana", "瀬戸内"),
        ("furigana", "setouchi"),
        ("phone", "12345"),
        ("phone", "090-1234-567"),
        ("birth_date", "きのう"),
        ("birth_date", "2030年1月1日"),  # in the future
        ("birth_date", "昭和25年2月30日"),
        ("move_date", "2020年1月1日"),  # far from today
        ("copies", "0"),
        ("copies", "11通"),
        ("insured_number", "12345"),
        ("address", "123"),
        ("name", "あ" * 500),
    ],
)
def test_answers_that_do_not_fit_are_refused(key: str, typed: str) -> None:
    with pytest.raises(InvalidAnswer):
        forms.clean(FIELDS[key], typed, today=date(2026, 11, 24))


def test_a_whole_form_needs_every_required_field() -> None:
    today = date(2026, 11, 24)
    answers = {"name": "瀬戸内 花子", "furigana": "せとうち はなこ", "birth_date": "S25.4.1", "phone": "0869221111"}
    fields = ["name", "furigana", "birth_date", "phone", "address", "insured_number"]
    with pytest.raises(InvalidAnswer, match="address"):
        forms.clean_all(fields, answers, today=today)
    cleaned = forms.clean_all(fields, {**answers, "address": "瀬戸内市邑久町尾張1"}, today=today)
    assert "insured_number" not in cleaned and cleaned["furigana"] == "セトウチ ハナコ"


def test_dates_read_back_with_the_japanese_era() -> None:
    assert forms.display(FIELDS["birth_date"], "1950-04-01") == "1950年4月1日（昭和25年）"
    assert forms.display(FIELDS["birth_date"], "2019-05-01") == "2019年5月1日（令和元年）"
    assert forms.display(FIELDS["phone"], "09012345678") == "090-1234-5678"


def test_qr_tokens_are_random_160_bit_base32_and_scanner_input_is_normalised() -> None:
    tokens = {qr.new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    token = tokens.pop()
    assert qr.TOKEN_PATTERN.fullmatch(token) and len(token) * 5 >= 128
    assert qr.normalise_token(f"  {token.lower()}\n") == token
    assert qr.normalise_token(token.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})) == token  # 全角
    assert qr.normalise_token("not a token") is None and qr.normalise_token("") is None


@pytest.mark.parametrize(("size", "pixels"), [("original", 1024), ("preview", 240)])
def test_qr_png_decodes_to_the_token_at_both_sizes(size: str, pixels: int) -> None:
    token = qr.new_token()
    image = Image.open(io.BytesIO(qr.png(token, size)))
    assert image.format == "PNG" and image.size == (pixels, pixels)
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [token]
    assert len(qr.png(token, size)) < (1_000_000 if size == "preview" else 10_000_000)


def test_window_days_iterate() -> None:
    window = calendar.Window(date(2026, 12, 28), date(2027, 1, 4))
    assert [d for d in window.days() if calendar.is_counter_day(d)] == [date(2026, 12, 28), date(2027, 1, 4)]
    assert date(2027, 1, 1) in window and date(2027, 1, 5) not in window
    assert window.last - window.first == timedelta(days=7)
