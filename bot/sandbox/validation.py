"""LINE's request checks for message objects, actions and rich menus, as plain functions over JSON.

Each check appends `{"message", "property"}` details (LINE's error-detail shape) to a `Problems`
collector, so one answer lists every fault at once, as LINE's does. Limits follow the Messaging API
reference (see /work/shared/LINE_CONTRACT.md §2); where LINE is vague (Flex size in "KB") the sandbox
takes the stricter reading, so a bot that passes here also passes on LINE.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_MESSAGES = 5
MAX_TEXT_UTF16 = 5000
MAX_ALT_TEXT = 400
MAX_FLEX_BUBBLE_BYTES = 30_000
MAX_FLEX_CAROUSEL_BYTES = 50_000
MAX_CAROUSEL_BUBBLES = 12
MAX_QUICK_REPLY_ITEMS = 13
MAX_QUICK_REPLY_LABEL = 20
MAX_URL = 2000
MAX_URI_ACTION = 1000
MAX_POSTBACK_DATA = 300
MAX_LOCATION_FIELD = 100

MESSAGE_TYPES = ("text", "textV2", "sticker", "image", "video", "audio", "location", "imagemap", "template", "flex")
QUICK_REPLY_ACTIONS = ("postback", "message", "uri", "datetimepicker", "camera", "cameraRoll", "location", "clipboard")
TEMPLATE_ACTIONS = ("postback", "message", "uri", "datetimepicker", "clipboard")
FLEX_ACTIONS = ("postback", "message", "uri", "datetimepicker", "clipboard")
RICH_MENU_ACTIONS = ("postback", "message", "uri", "datetimepicker", "richmenuswitch")
FLEX_COMPONENTS = ("box", "button", "image", "video", "icon", "text", "span", "separator", "filler", "spacer")
URI_SCHEMES = ("http://", "https://", "line://", "tel:", "mailto:")

_DATETIME_FORMATS = {
    "date": (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "%Y-%m-%d"),
    "time": (re.compile(r"^\d{2}:\d{2}$"), "%H:%M"),
    "datetime": (re.compile(r"^\d{4}-\d{2}-\d{2}[tT]\d{2}:\d{2}$"), "%Y-%m-%dT%H:%M"),
}
_EARLIEST = datetime(1900, 1, 1)
_LATEST = datetime(2100, 12, 31, 23, 59)


def utf16_length(text: str) -> int:
    """Length as LINE counts it: UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def compact_json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@dataclass
class Problems:
    """Collects LINE-style error details; `allow_http_images` relaxes the HTTPS rule for local images."""

    allow_http_images: bool = False
    details: list[dict[str, str]] = field(default_factory=list)

    def add(self, prop: str, message: str) -> None:
        self.details.append({"message": message, "property": prop})

    def __bool__(self) -> bool:
        return bool(self.details)

    def summary(self) -> str:
        return f"The request body has {len(self.details)} error(s)"

    # --- small reusable checks -------------------------------------------------------------------
    def required_str(
        self, obj: dict[str, Any], key: str, path: str, *, max_len: int | None = None, min_len: int = 1
    ) -> str | None:
        value = obj.get(key)
        prop = f"{path}.{key}"
        if value is None:
            self.add(prop, "must be specified")
            return None
        return self.check_str(value, prop, max_len=max_len, min_len=min_len)

    def optional_str(
        self, obj: dict[str, Any], key: str, path: str, *, max_len: int | None = None, min_len: int = 0
    ) -> str | None:
        if obj.get(key) is None:
            return None
        return self.check_str(obj[key], f"{path}.{key}", max_len=max_len, min_len=min_len)

    def check_str(self, value: Any, prop: str, *, max_len: int | None, min_len: int) -> str | None:
        if not isinstance(value, str):
            self.add(prop, "must be a string")
            return None
        length = len(value)
        if length < min_len or (max_len is not None and length > max_len):
            upper = max_len if max_len is not None else "∞"
            self.add(prop, f"Length must be between {min_len} and {upper}")
        return value

    def required_number(self, obj: dict[str, Any], key: str, path: str, *, low: float, high: float) -> None:
        value = obj.get(key)
        prop = f"{path}.{key}"
        if value is None:
            self.add(prop, "must be specified")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            self.add(prop, "must be a number")
        elif not low <= value <= high:
            self.add(prop, f"must be between {low} and {high}")

    def url(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        image: bool = False,
        max_len: int = MAX_URL,
    ) -> None:
        value = obj.get(key)
        prop = f"{path}.{key}"
        if value is None:
            if required:
                self.add(prop, "must be specified")
            return
        if not isinstance(value, str) or not value:
            self.add(prop, "must be a non-empty string")
            return
        if len(value) > max_len:
            self.add(prop, f"Length must be between 1 and {max_len}")
        https = value.startswith("https://")
        http_ok = image and self.allow_http_images and value.startswith("http://")
        if not (https or http_ok):
            self.add(prop, "invalid uri: must be an HTTPS URL")


# --- messages ----------------------------------------------------------------------------------------
def check_messages(messages: Any, problems: Problems, path: str = "messages") -> None:
    """The `messages` array of reply/push/multicast/narrowcast/broadcast."""
    if not isinstance(messages, list):
        problems.add(path, "must be specified" if messages is None else "must be an array")
        return
    if not 1 <= len(messages) <= MAX_MESSAGES:
        problems.add(path, f"Size must be between 1 and {MAX_MESSAGES}")
    for index, message in enumerate(messages):
        check_message(message, problems, f"{path}[{index}]")


def check_message(message: Any, problems: Problems, path: str) -> None:
    if not isinstance(message, dict):
        problems.add(path, "must be an object")
        return
    kind = message.get("type")
    checker = _MESSAGE_CHECKERS.get(kind) if isinstance(kind, str) else None
    if checker is None:
        problems.add(f"{path}.type", f"Must be one of the following values: [{', '.join(MESSAGE_TYPES)}]")
        return
    checker(message, problems, path)
    if message.get("quickReply") is not None:
        check_quick_reply(message["quickReply"], problems, f"{path}.quickReply")
    if message.get("sender") is not None:
        check_sender(message["sender"], problems, f"{path}.sender")


def _check_text(message: dict[str, Any], problems: Problems, path: str) -> None:
    text = message.get("text")
    if text is None:
        problems.add(f"{path}.text", "must be specified")
    elif not isinstance(text, str):
        problems.add(f"{path}.text", "must be a string")
    elif not text:
        problems.add(f"{path}.text", "May not be empty")
    elif utf16_length(text) > MAX_TEXT_UTF16:
        problems.add(f"{path}.text", f"Length must be between 0 and {MAX_TEXT_UTF16}")


def _check_sticker(message: dict[str, Any], problems: Problems, path: str) -> None:
    problems.required_str(message, "packageId", path)
    problems.required_str(message, "stickerId", path)


def _check_image(message: dict[str, Any], problems: Problems, path: str) -> None:
    problems.url(message, "originalContentUrl", path, image=True)
    problems.url(message, "previewImageUrl", path, image=True)


def _check_video(message: dict[str, Any], problems: Problems, path: str) -> None:
    problems.url(message, "originalContentUrl", path, image=True)
    problems.url(message, "previewImageUrl", path, image=True)


def _check_audio(message: dict[str, Any], problems: Problems, path: str) -> None:
    problems.url(message, "originalContentUrl", path, image=True)
    problems.required_number(message, "duration", path, low=1, high=24 * 3600 * 1000)


def _check_location(message: dict[str, Any], problems: Problems, path: str) -> None:
    problems.required_str(message, "title", path, max_len=MAX_LOCATION_FIELD)
    problems.required_str(message, "address", path, max_len=MAX_LOCATION_FIELD)
    problems.required_number(message, "latitude", path, low=-90, high=90)
    problems.required_number(message, "longitude", path, low=-180, high=180)


def _check_imagemap(message: dict[str, Any], problems: Problems, path: str) -> None:
    problems.url(message, "baseUrl", path, image=True)
    problems.required_str(message, "altText", path, max_len=MAX_ALT_TEXT)
    base_size = message.get("baseSize")
    if not isinstance(base_size, dict):
        problems.add(f"{path}.baseSize", "must be specified")
    actions = message.get("actions")
    if not isinstance(actions, list) or not 1 <= len(actions) <= 50:
        problems.add(f"{path}.actions", "Size must be between 1 and 50")


def _check_flex(message: dict[str, Any], problems: Problems, path: str) -> None:
    problems.required_str(message, "altText", path, max_len=MAX_ALT_TEXT)
    contents = message.get("contents")
    if not isinstance(contents, dict):
        problems.add(f"{path}.contents", "must be specified")
        return
    check_flex_container(contents, problems, f"{path}.contents")


def _check_template(message: dict[str, Any], problems: Problems, path: str) -> None:
    problems.required_str(message, "altText", path, max_len=MAX_ALT_TEXT)
    template = message.get("template")
    if not isinstance(template, dict):
        problems.add(f"{path}.template", "must be specified")
        return
    checker = _TEMPLATE_CHECKERS.get(template.get("type"))  # type: ignore[arg-type]
    if checker is None:
        problems.add(
            f"{path}.template.type", "Must be one of the following values: [buttons, confirm, carousel, image_carousel]"
        )
        return
    checker(template, problems, f"{path}.template")


_MESSAGE_CHECKERS: dict[str, Callable[[dict[str, Any], Problems, str], None]] = {
    "text": _check_text,
    "textV2": _check_text,
    "sticker": _check_sticker,
    "image": _check_image,
    "video": _check_video,
    "audio": _check_audio,
    "location": _check_location,
    "imagemap": _check_imagemap,
    "template": _check_template,
    "flex": _check_flex,
}


def check_quick_reply(quick_reply: Any, problems: Problems, path: str) -> None:
    items = quick_reply.get("items") if isinstance(quick_reply, dict) else None
    if not isinstance(items, list):
        problems.add(f"{path}.items", "must be specified")
        return
    if not 1 <= len(items) <= MAX_QUICK_REPLY_ITEMS:
        problems.add(f"{path}.items", f"Size must be between 1 and {MAX_QUICK_REPLY_ITEMS}")
    for index, item in enumerate(items):
        item_path = f"{path}.items[{index}]"
        if not isinstance(item, dict) or item.get("type") != "action":
            problems.add(f"{item_path}.type", "Must be one of the following values: [action]")
            continue
        problems.url(item, "imageUrl", item_path, required=False, max_len=MAX_URI_ACTION)
        check_action(
            item.get("action"),
            problems,
            f"{item_path}.action",
            allowed=QUICK_REPLY_ACTIONS,
            label_max=MAX_QUICK_REPLY_LABEL,
            label_required=True,
        )


def check_sender(sender: Any, problems: Problems, path: str) -> None:
    if not isinstance(sender, dict):
        problems.add(path, "must be an object")
        return
    problems.optional_str(sender, "name", path, max_len=20, min_len=1)
    problems.url(sender, "iconUrl", path, required=False, image=True, max_len=MAX_URI_ACTION)


# --- templates ---------------------------------------------------------------------------------------
def _check_template_actions(actions: Any, problems: Problems, path: str, *, low: int, high: int) -> None:
    if not isinstance(actions, list) or not low <= len(actions) <= high:
        problems.add(path, f"Size must be between {low} and {high}")
        return
    for index, action in enumerate(actions):
        check_action(action, problems, f"{path}[{index}]", allowed=TEMPLATE_ACTIONS, label_max=20, label_required=True)


def _check_buttons_template(template: dict[str, Any], problems: Problems, path: str) -> None:
    has_header = template.get("thumbnailImageUrl") is not None or template.get("title") is not None
    problems.required_str(template, "text", path, max_len=60 if has_header else 160)
    problems.optional_str(template, "title", path, max_len=40)
    problems.url(template, "thumbnailImageUrl", path, required=False, image=True)
    _check_template_actions(template.get("actions"), problems, f"{path}.actions", low=1, high=4)


def _check_confirm_template(template: dict[str, Any], problems: Problems, path: str) -> None:
    problems.required_str(template, "text", path, max_len=240)
    _check_template_actions(template.get("actions"), problems, f"{path}.actions", low=2, high=2)


def _check_carousel_template(template: dict[str, Any], problems: Problems, path: str) -> None:
    columns = template.get("columns")
    if not isinstance(columns, list) or not 1 <= len(columns) <= 10:
        problems.add(f"{path}.columns", "Size must be between 1 and 10")
        return
    for index, column in enumerate(columns):
        column_path = f"{path}.columns[{index}]"
        if not isinstance(column, dict):
            problems.add(column_path, "must be an object")
            continue
        problems.required_str(column, "text", column_path, max_len=120)
        problems.url(column, "thumbnailImageUrl", column_path, required=False, image=True)
        _check_template_actions(column.get("actions"), problems, f"{column_path}.actions", low=1, high=3)


def _check_image_carousel_template(template: dict[str, Any], problems: Problems, path: str) -> None:
    columns = template.get("columns")
    if not isinstance(columns, list) or not 1 <= len(columns) <= 10:
        problems.add(f"{path}.columns", "Size must be between 1 and 10")
        return
    for index, column in enumerate(columns):
        column_path = f"{path}.columns[{index}]"
        if not isinstance(column, dict):
            problems.add(column_path, "must be an object")
            continue
        problems.url(column, "imageUrl", column_path, image=True)
        check_action(
            column.get("action"),
            problems,
            f"{column_path}.action",
            allowed=TEMPLATE_ACTIONS,
            label_max=12,
            label_required=False,
        )


_TEMPLATE_CHECKERS: dict[str, Callable[[dict[str, Any], Problems, str], None]] = {
    "buttons": _check_buttons_template,
    "confirm": _check_confirm_template,
    "carousel": _check_carousel_template,
    "image_carousel": _check_image_carousel_template,
}


# --- flex --------------------------------------------------------------------------------------------
def check_flex_container(container: dict[str, Any], problems: Problems, path: str) -> None:
    kind = container.get("type")
    if kind == "bubble":
        size = compact_json_size(container)
        if size > MAX_FLEX_BUBBLE_BYTES:
            problems.add(path, f"The bubble is too large: {size} bytes (max {MAX_FLEX_BUBBLE_BYTES})")
        _check_bubble(container, problems, path)
    elif kind == "carousel":
        size = compact_json_size(container)
        if size > MAX_FLEX_CAROUSEL_BYTES:
            problems.add(path, f"The carousel is too large: {size} bytes (max {MAX_FLEX_CAROUSEL_BYTES})")
        _check_carousel(container, problems, path)
    else:
        problems.add(f"{path}.type", "Must be one of the following values: [bubble, carousel]")


def _check_carousel(carousel: dict[str, Any], problems: Problems, path: str) -> None:
    bubbles = carousel.get("contents")
    if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= MAX_CAROUSEL_BUBBLES:
        problems.add(f"{path}.contents", f"Size must be between 1 and {MAX_CAROUSEL_BUBBLES}")
        return
    for index, bubble in enumerate(bubbles):
        bubble_path = f"{path}.contents[{index}]"
        if not isinstance(bubble, dict) or bubble.get("type") != "bubble":
            problems.add(f"{bubble_path}.type", "Must be one of the following values: [bubble]")
            continue
        _check_bubble(bubble, problems, bubble_path)


def _check_bubble(bubble: dict[str, Any], problems: Problems, path: str) -> None:
    for block in ("header", "hero", "body", "footer"):
        component = bubble.get(block)
        if component is None:
            continue
        if block != "hero" and (not isinstance(component, dict) or component.get("type") != "box"):
            problems.add(f"{path}.{block}.type", "Must be one of the following values: [box]")
            continue
        check_flex_component(component, problems, f"{path}.{block}")
    if bubble.get("action") is not None:
        check_action(
            bubble["action"], problems, f"{path}.action", allowed=FLEX_ACTIONS, label_max=None, label_required=False
        )


def check_flex_component(component: Any, problems: Problems, path: str) -> None:
    if not isinstance(component, dict):
        problems.add(path, "must be an object")
        return
    kind = component.get("type")
    if kind not in FLEX_COMPONENTS:
        problems.add(f"{path}.type", f"Must be one of the following values: [{', '.join(FLEX_COMPONENTS)}]")
        return
    checker = _FLEX_CHECKERS.get(kind)
    if checker is not None:
        checker(component, problems, path)
    if kind != "button" and component.get("action") is not None:
        check_action(
            component["action"], problems, f"{path}.action", allowed=FLEX_ACTIONS, label_max=None, label_required=False
        )


def _check_flex_box(box: dict[str, Any], problems: Problems, path: str) -> None:
    if box.get("layout") not in ("vertical", "horizontal", "baseline"):
        problems.add(f"{path}.layout", "Must be one of the following values: [vertical, horizontal, baseline]")
    contents = box.get("contents")
    if not isinstance(contents, list):
        problems.add(f"{path}.contents", "must be specified")
        return
    for index, child in enumerate(contents):
        check_flex_component(child, problems, f"{path}.contents[{index}]")


def _check_flex_text(text: dict[str, Any], problems: Problems, path: str) -> None:
    spans = text.get("contents")
    if isinstance(spans, list) and spans:
        for index, span in enumerate(spans):
            check_flex_component(span, problems, f"{path}.contents[{index}]")
        return
    problems.required_str(text, "text", path, min_len=1)


def _check_flex_image(image: dict[str, Any], problems: Problems, path: str) -> None:
    problems.url(image, "url", path, image=True)


def _check_flex_video(video: dict[str, Any], problems: Problems, path: str) -> None:
    problems.url(video, "url", path, image=True)
    problems.url(video, "previewUrl", path, image=True)
    if not isinstance(video.get("altContent"), dict):
        problems.add(f"{path}.altContent", "must be specified")


def _check_flex_button(button: dict[str, Any], problems: Problems, path: str) -> None:
    check_action(
        button.get("action"), problems, f"{path}.action", allowed=FLEX_ACTIONS, label_max=40, label_required=True
    )


def _check_flex_span(span: dict[str, Any], problems: Problems, path: str) -> None:
    problems.required_str(span, "text", path, min_len=1)


_FLEX_CHECKERS: dict[str, Callable[[dict[str, Any], Problems, str], None]] = {
    "box": _check_flex_box,
    "text": _check_flex_text,
    "image": _check_flex_image,
    "icon": _check_flex_image,
    "video": _check_flex_video,
    "button": _check_flex_button,
    "span": _check_flex_span,
}


# --- actions -----------------------------------------------------------------------------------------
def check_action(
    action: Any, problems: Problems, path: str, *, allowed: tuple[str, ...], label_max: int | None, label_required: bool
) -> None:
    if not isinstance(action, dict):
        problems.add(path, "must be specified")
        return
    kind = action.get("type")
    if kind not in allowed:
        problems.add(f"{path}.type", f"Must be one of the following values: [{', '.join(allowed)}]")
        return
    if label_required and action.get("label") is None:
        problems.add(f"{path}.label", "must be specified")
    else:
        problems.optional_str(action, "label", path, max_len=label_max, min_len=1)
    checker = _ACTION_CHECKERS.get(kind)
    if checker is not None:
        checker(action, problems, path)


def _check_postback_action(action: dict[str, Any], problems: Problems, path: str) -> None:
    problems.required_str(action, "data", path, max_len=MAX_POSTBACK_DATA)
    problems.optional_str(action, "displayText", path, max_len=300, min_len=1)
    problems.optional_str(action, "text", path, max_len=300, min_len=1)
    if action.get("displayText") is not None and action.get("text") is not None:
        problems.add(f"{path}.text", "displayText and text cannot both be specified")


def _check_message_action(action: dict[str, Any], problems: Problems, path: str) -> None:
    problems.required_str(action, "text", path, max_len=300)


def _check_uri_action(action: dict[str, Any], problems: Problems, path: str) -> None:
    uri = problems.required_str(action, "uri", path, max_len=MAX_URI_ACTION)
    if uri and not uri.startswith(URI_SCHEMES):
        problems.add(f"{path}.uri", "invalid uri: the scheme must be http, https, line or tel")


def _check_clipboard_action(action: dict[str, Any], problems: Problems, path: str) -> None:
    problems.required_str(action, "clipboardText", path, max_len=1000)


def _check_richmenuswitch_action(action: dict[str, Any], problems: Problems, path: str) -> None:
    problems.required_str(action, "richMenuAliasId", path, max_len=32)
    problems.required_str(action, "data", path, max_len=MAX_POSTBACK_DATA)


def _check_datetimepicker_action(action: dict[str, Any], problems: Problems, path: str) -> None:
    problems.required_str(action, "data", path, max_len=MAX_POSTBACK_DATA)
    mode = action.get("mode")
    if mode not in _DATETIME_FORMATS:
        problems.add(f"{path}.mode", "Must be one of the following values: [date, time, datetime]")
        return
    values = {
        key: _parse_picker_value(action.get(key), mode, problems, f"{path}.{key}") for key in ("initial", "min", "max")
    }
    low, high, initial = values["min"], values["max"], values["initial"]
    if low is not None and high is not None and low > high:
        problems.add(f"{path}.min", "min must not be after max")
    if initial is not None and ((low is not None and initial < low) or (high is not None and initial > high)):
        problems.add(f"{path}.initial", "initial must be between min and max")


def _parse_picker_value(value: Any, mode: str, problems: Problems, prop: str) -> datetime | None:
    if value is None:
        return None
    pattern, fmt = _DATETIME_FORMATS[mode]
    if not isinstance(value, str) or not pattern.match(value):
        problems.add(prop, f"invalid {mode} format")
        return None
    try:
        parsed = datetime.strptime(value.replace("t", "T"), fmt)
    except ValueError:
        problems.add(prop, f"invalid {mode} value")
        return None
    if mode != "time" and not _EARLIEST <= parsed <= _LATEST:
        problems.add(prop, "must be between 1900-01-01T00:00 and 2100-12-31T23:59")
    return parsed


_ACTION_CHECKERS: dict[str, Callable[[dict[str, Any], Problems, str], None]] = {
    "postback": _check_postback_action,
    "message": _check_message_action,
    "uri": _check_uri_action,
    "datetimepicker": _check_datetimepicker_action,
    "clipboard": _check_clipboard_action,
    "richmenuswitch": _check_richmenuswitch_action,
}


# --- rich menu ---------------------------------------------------------------------------------------
def check_rich_menu(menu: Any, problems: Problems) -> None:
    """POST /v2/bot/richmenu: size, selected, name, chatBarText, areas (REF #rich-menu-object)."""
    if not isinstance(menu, dict):
        problems.add("richMenu", "must be an object")
        return
    width, height = _check_rich_menu_size(menu.get("size"), problems)
    if not isinstance(menu.get("selected"), bool):
        problems.add("selected", "must be specified")
    problems.required_str(menu, "name", "richMenu", max_len=300)
    problems.required_str(menu, "chatBarText", "richMenu", max_len=14)
    areas = menu.get("areas")
    if not isinstance(areas, list):
        problems.add("areas", "must be specified")
        return
    if len(areas) > 20:
        problems.add("areas", "Size must be between 0 and 20")
    for index, area in enumerate(areas):
        _check_rich_menu_area(area, problems, f"areas[{index}]", width, height)
    _strip_prefix(problems, "richMenu.")


def _check_rich_menu_size(size: Any, problems: Problems) -> tuple[int, int]:
    if not isinstance(size, dict) or not all(isinstance(size.get(k), int) for k in ("width", "height")):
        problems.add("size", "must be specified")
        return 0, 0
    width, height = int(size["width"]), int(size["height"])
    if not 800 <= width <= 2500:
        problems.add("size.width", "must be between 800 and 2500")
    if height < 250:
        problems.add("size.height", "must be 250 or more")
    if height > 0 and width / height < 1.45:
        problems.add("size", "width / height must be 1.45 or more")
    return width, height


def _check_rich_menu_area(area: Any, problems: Problems, path: str, width: int, height: int) -> None:
    if not isinstance(area, dict):
        problems.add(path, "must be an object")
        return
    bounds = area.get("bounds")
    keys = ("x", "y", "width", "height")
    if not isinstance(bounds, dict) or not all(isinstance(bounds.get(k), int) for k in keys):
        problems.add(f"{path}.bounds", "must be specified")
    elif width and height:
        x, y, w, h = (int(bounds[k]) for k in keys)
        if min(x, y) < 0 or w <= 0 or h <= 0 or x + w > width or y + h > height:
            problems.add(f"{path}.bounds", "must lie inside the rich menu size")
    check_action(
        area.get("action"), problems, f"{path}.action", allowed=RICH_MENU_ACTIONS, label_max=20, label_required=False
    )


def _strip_prefix(problems: Problems, prefix: str) -> None:
    for detail in problems.details:
        if detail["property"].startswith(prefix):
            detail["property"] = detail["property"][len(prefix) :]
