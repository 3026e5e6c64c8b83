"""Draws the rich menu picture, bot/assets/richmenu.png (2500x1686, LINE's large size).

    .venv/bin/python scripts/draw_richmenu.py [--out PATH] [--font BOLD_JAPANESE_FONT]

Needs a Japanese font (Debian: fonts-noto-cjk). The PNG is committed, so only someone changing the
menu needs this script. Labels and tap areas come from bot/richmenu.py's RICH_MENU_AREAS, so the
picture always matches where the taps land; this file adds only the look: colours, pictograms and
the short sub-line under each label. Everything is drawn at twice the size and scaled down, which
gives smooth edges without any icon files.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a plain script: make `bot` importable
    sys.path.insert(0, str(REPO_ROOT))

from bot.richmenu import HEIGHT, RICH_MENU_AREAS, WIDTH, MenuArea  # noqa: E402

OUT = REPO_ROOT / "bot" / "assets" / "richmenu.png"
SCALE = 2  # supersampling factor
LINE_IMAGE_LIMIT = 1_000_000

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
BOLD_FONT = FONT_DIR / "NotoSansCJK-Bold.ttc"
REGULAR_FONT = FONT_DIR / "NotoSansCJK-Regular.ttc"

Colour = tuple[int, int, int]
BACKGROUND: Colour = (0xDC, 0xE5, 0xEE)  # the gaps between buttons: a pale sea-grey
CARD: Colour = (0xFF, 0xFF, 0xFF)
INK: Colour = (0x14, 0x25, 0x38)  # labels: near-black navy, ~15:1 on white


@dataclass(frozen=True)
class Tile:
    """How one button looks; its label and place come from RICH_MENU_AREAS."""

    intent: str
    sub_line: str
    accent: Colour  # every accent keeps >= 4.5:1 against white (WCAG AA) for the sub-line text
    icon: Callable[[ImageDraw.ImageDraw, float, float, float, Colour], None]


# ---------------------------------------------------------------- pictograms
# Each draws in white inside the accent circle centred on (cx, cy) with radius r; details that must
# show on the white shapes use the accent colour. Sizes are fractions of r so the scale is free.


def _shade(colour: Colour, factor: float) -> Colour:
    r, g, b = colour
    return (int(r * factor), int(g * factor), int(b * factor))


def _tint(colour: Colour, amount: float) -> Colour:
    """Mixes `colour` towards white; amount 0 = colour, 1 = white."""
    return tuple(int(c + (255 - c) * amount) for c in colour)  # type: ignore[return-value]


def icon_calendar(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, accent: Colour) -> None:
    """A calendar page with a tick: book the counter visit."""
    left, right, top, bottom = cx - 0.56 * r, cx + 0.56 * r, cy - 0.44 * r, cy + 0.52 * r
    d.rounded_rectangle((left, top, right, bottom), radius=0.12 * r, fill=CARD)
    header = top + 0.26 * r
    d.rounded_rectangle((left, top, right, bottom), radius=0.12 * r, fill=_shade(accent, 0.7))
    d.rounded_rectangle((left, header, right, bottom), radius=0.12 * r, fill=CARD, corners=(False, False, True, True))
    for ring_x in (cx - 0.28 * r, cx + 0.28 * r):
        d.rounded_rectangle(
            (ring_x - 0.06 * r, top - 0.14 * r, ring_x + 0.06 * r, top + 0.12 * r),
            radius=0.05 * r,
            fill=CARD,
            outline=_shade(accent, 0.7),
            width=max(2, int(0.03 * r)),
        )
    tick = [(cx - 0.27 * r, cy + 0.12 * r), (cx - 0.06 * r, cy + 0.32 * r), (cx + 0.3 * r, cy - 0.06 * r)]
    d.line(tick, fill=accent, width=int(0.13 * r), joint="curve")
    for x, y in (tick[0], tick[-1]):  # round the ends of the stroke
        d.ellipse((x - 0.065 * r, y - 0.065 * r, x + 0.065 * r, y + 0.065 * r), fill=accent)


# A fixed 9x9 module pattern between the three finder squares: looks like a QR code, encodes nothing.
_QR_BITS = (
    "101101011",
    "010110110",
    "111001101",
    "001111010",
    "110100111",
    "011011001",
    "101110110",
    "110001011",
    "011101101",
)


def icon_qr(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, accent: Colour) -> None:
    """A QR code on a white card: show it at the counter."""
    half = 0.56 * r
    d.rounded_rectangle((cx - half, cy - half, cx + half, cy + half), radius=0.1 * r, fill=CARD)
    grid = 21  # modules across, like a version-1 QR code
    inner = 2 * half * 0.82
    m = inner / grid
    x0, y0 = cx - inner / 2, cy - inner / 2
    dark = _shade(accent, 0.75)

    def finder(gx: int, gy: int) -> None:
        px, py = x0 + gx * m, y0 + gy * m
        d.rectangle((px, py, px + 7 * m, py + 7 * m), fill=dark)
        d.rectangle((px + m, py + m, px + 6 * m, py + 6 * m), fill=CARD)
        d.rectangle((px + 2 * m, py + 2 * m, px + 5 * m, py + 5 * m), fill=dark)

    finder(0, 0)
    finder(grid - 7, 0)
    finder(0, grid - 7)
    for row in range(grid):
        for col in range(grid):
            in_finder = (row < 8 and col < 8) or (row < 8 and col >= grid - 8) or (row >= grid - 8 and col < 8)
            if in_finder:
                continue
            if _QR_BITS[row % 9][col % 9] == "1" and (row + 2 * col) % 3:
                px, py = x0 + col * m, y0 + row * m
                d.rectangle((px, py, px + m, py + m), fill=dark)


def icon_question(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, accent: Colour) -> None:
    """A speech bubble with a question mark: ask anything."""
    left, right, top, bottom = cx - 0.6 * r, cx + 0.6 * r, cy - 0.5 * r, cy + 0.36 * r
    d.rounded_rectangle((left, top, right, bottom), radius=0.26 * r, fill=CARD)
    d.polygon([(cx - 0.34 * r, bottom - 2), (cx - 0.02 * r, bottom - 2), (cx - 0.4 * r, bottom + 0.3 * r)], fill=CARD)
    font = ImageFont.truetype(str(BOLD_FONT), int(0.95 * r), index=0)
    # centre the glyph's ink, not its line box: "?" sits low in the font's em square
    x0, y0, x1, y1 = d.textbbox((0, 0), "?", font=font, anchor="lt")
    d.text((cx - (x0 + x1) / 2, (top + bottom) / 2 - (y0 + y1) / 2), "?", font=font, fill=accent, anchor="lt")


def icon_pin(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, accent: Colour) -> None:
    """A map pin holding a small house: a shelter or city facility nearby."""
    head_r = 0.44 * r
    hy = cy - 0.16 * r
    tip = (cx, cy + 0.64 * r)
    d.ellipse((cx - head_r, hy - head_r, cx + head_r, hy + head_r), fill=CARD)
    # The tail meets the head's circle at its tangents, so the outline has no kink.
    d.polygon([(cx - 0.39 * head_r * 2.0, hy + 0.24 * r), (cx + 0.39 * head_r * 2.0, hy + 0.24 * r), tip], fill=CARD)
    # a house: roof and walls with a door
    roof = [(cx - 0.3 * r, hy - 0.01 * r), (cx, hy - 0.28 * r), (cx + 0.3 * r, hy - 0.01 * r)]
    d.polygon(roof, fill=accent)
    d.rectangle((cx - 0.21 * r, hy - 0.03 * r, cx + 0.21 * r, hy + 0.24 * r), fill=accent)
    d.rectangle((cx - 0.06 * r, hy + 0.07 * r, cx + 0.06 * r, hy + 0.24 * r), fill=CARD)
    # a small shadow under the tip so the pin stands on the ground
    d.ellipse((cx - 0.26 * r, tip[1] + 0.06 * r, cx + 0.26 * r, tip[1] + 0.16 * r), fill=_shade(accent, 0.72))


def icon_phone(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, accent: Colour) -> None:
    """A smartphone with a chat on its screen: smartphone classes."""
    left, right, top, bottom = cx - 0.34 * r, cx + 0.34 * r, cy - 0.62 * r, cy + 0.62 * r
    d.rounded_rectangle((left, top, right, bottom), radius=0.12 * r, fill=CARD)
    screen = (left + 0.07 * r, top + 0.16 * r, right - 0.07 * r, bottom - 0.2 * r)
    d.rectangle(screen, fill=_shade(accent, 0.72))
    d.rounded_rectangle((cx - 0.1 * r, top + 0.06 * r, cx + 0.1 * r, top + 0.095 * r), radius=0.02 * r, fill=accent)
    d.ellipse((cx - 0.065 * r, bottom - 0.165 * r, cx + 0.065 * r, bottom - 0.035 * r), fill=accent)
    # two chat bubbles on the screen
    sl, st, sr, _ = screen
    d.rounded_rectangle((sl + 0.06 * r, st + 0.1 * r, sr - 0.16 * r, st + 0.3 * r), radius=0.07 * r, fill=CARD)
    d.rounded_rectangle(
        (sl + 0.16 * r, st + 0.4 * r, sr - 0.06 * r, st + 0.6 * r), radius=0.07 * r, fill=_tint(accent, 0.55)
    )
    d.rounded_rectangle((sl + 0.06 * r, st + 0.7 * r, sr - 0.22 * r, st + 0.86 * r), radius=0.06 * r, fill=CARD)


def icon_bell(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, accent: Colour) -> None:
    """A bell with sound waves: choose which news to receive."""
    top = cy - 0.46 * r
    dome_r = 0.3 * r
    base_y = cy + 0.3 * r
    base_half = 0.5 * r
    # dome
    d.ellipse((cx - dome_r, top, cx + dome_r, top + 2 * dome_r), fill=CARD)
    # flaring body from the dome's widest point down to the lip
    d.polygon(
        [
            (cx - dome_r, top + dome_r),
            (cx + dome_r, top + dome_r),
            (cx + 0.36 * r, cy + 0.08 * r),
            (cx + base_half, base_y),
            (cx - base_half, base_y),
            (cx - 0.36 * r, cy + 0.08 * r),
        ],
        fill=CARD,
    )
    d.rounded_rectangle((cx - base_half - 0.04 * r, base_y - 0.04 * r, cx + base_half + 0.04 * r, base_y + 0.09 * r),
                        radius=0.05 * r, fill=CARD)  # fmt: skip
    d.ellipse((cx - 0.1 * r, base_y + 0.06 * r, cx + 0.1 * r, base_y + 0.26 * r), fill=CARD)  # clapper
    d.ellipse((cx - 0.07 * r, top - 0.1 * r, cx + 0.07 * r, top + 0.04 * r), fill=CARD)  # knob
    # sound waves either side
    w = max(2, int(0.07 * r))
    for k, radius in enumerate((0.66 * r, 0.84 * r)):
        box = (cx - radius, cy - 0.12 * r - radius, cx + radius, cy - 0.12 * r + radius)
        span = 22 - 4 * k
        d.arc(box, 200 - span, 200 + span, fill=CARD, width=w)
        d.arc(box, 340 - span, 340 + span, fill=CARD, width=w)


# ---------------------------------------------------------------- the six tiles

TILES: dict[str, Tile] = {
    t.intent: t
    for t in (
        Tile("reservation_make", "書かない窓口", (0x1D, 0x5B, 0xA6), icon_calendar),  # Seto Inland Sea blue
        Tile("reservation_check", "QRコードを表示", (0x0B, 0x6E, 0x6E), icon_qr),  # teal
        Tile("faq", "24時間おこたえ", (0x2B, 0x6E, 0x33), icon_question),  # olive-leaf green
        Tile("shelter_search", "近くの場所を探す", (0xB0, 0x4A, 0x0C), icon_pin),  # safety orange, darkened
        Tile("class_info", "シニア向け", (0x5E, 0x45, 0x94), icon_phone),  # muted violet
        Tile("subscribe", "お知らせの受け取り", (0x3A, 0x59, 0x78), icon_bell),  # slate blue
    )
}


def _contrast(a: Colour, b: Colour) -> float:
    def luminance(c: Colour) -> float:
        channels = [v / 255 for v in c]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _fit_font(path: Path, text: str, max_width: float, size: int) -> ImageFont.FreeTypeFont:
    """The largest font up to `size` that fits `text` into `max_width`."""
    while True:
        font = ImageFont.truetype(str(path), size, index=0)
        if font.getlength(text) <= max_width or size <= 10:
            return font
        size -= 2


def draw_tile(d: ImageDraw.ImageDraw, area: MenuArea, tile: Tile) -> None:
    s = SCALE
    gap = 12 * s  # half the visible gap between neighbouring cards
    left, top = area.x * s + gap, area.y * s + gap
    right, bottom = (area.x + area.width) * s - gap, (area.y + area.height) * s - gap
    width = right - left
    cx = (left + right) / 2
    # a white card whose top edge is a band of its colour
    # (the band is as tall as the corner radius, so the white part starts below the curve)
    radius = 28 * s
    d.rounded_rectangle((left, top, right, bottom), radius=radius, fill=tile.accent)
    d.rounded_rectangle(
        (left, top + radius, right, bottom), radius=radius, fill=CARD, corners=(False, False, True, True)
    )

    icon_r = 165 * s
    icon_cy = top + 262 * s
    d.ellipse((cx - icon_r, icon_cy - icon_r, cx + icon_r, icon_cy + icon_r), fill=tile.accent)
    tile.icon(d, cx, icon_cy, icon_r, tile.accent)

    label_font = _fit_font(BOLD_FONT, area.label, width - 130 * s, 124 * s)
    d.text((cx, top + 540 * s), area.label, font=label_font, fill=INK, anchor="mm")

    sub_font = _fit_font(BOLD_FONT, tile.sub_line, width - 160 * s, 64 * s)
    pill_half_w = sub_font.getlength(tile.sub_line) / 2 + 46 * s
    pill_cy = top + 692 * s
    d.rounded_rectangle(
        (cx - pill_half_w, pill_cy - 50 * s, cx + pill_half_w, pill_cy + 50 * s),
        radius=50 * s,
        fill=_tint(tile.accent, 0.88),
    )
    d.text((cx, pill_cy), tile.sub_line, font=sub_font, fill=_shade(tile.accent, 0.8), anchor="mm")


def draw() -> Image.Image:
    canvas = Image.new("RGB", (WIDTH * SCALE, HEIGHT * SCALE), BACKGROUND)
    d = ImageDraw.Draw(canvas)
    for area in RICH_MENU_AREAS:
        draw_tile(d, area, TILES[area.intent])
    return canvas.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)


def _to_palette(image: Image.Image) -> Image.Image:
    """256 colours (a third of the RGB file's size) with the flat colours kept exact.

    The octree quantiser rounds each colour a little (white becomes 254); entries that land within
    a few steps of a colour we painted are put back to it, so the card is pure white again.
    """
    painted = {CARD, BACKGROUND, INK}
    for tile in TILES.values():
        painted |= {tile.accent, _shade(tile.accent, 0.7), _shade(tile.accent, 0.8), _tint(tile.accent, 0.88)}
    paletted = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    flat = paletted.getpalette() or []
    for i in range(0, len(flat) - 2, 3):
        entry = (flat[i], flat[i + 1], flat[i + 2])
        near = min(painted, key=lambda c: max(abs(a - b) for a, b in zip(c, entry, strict=True)))
        if max(abs(a - b) for a, b in zip(near, entry, strict=True)) <= 3:
            flat[i : i + 3] = near
    paletted.putpalette(flat)
    return paletted


def _find_japanese_font(preferred: Path, style: str) -> Path:
    if preferred.exists():
        return preferred
    listing = subprocess.run(
        ["fc-list", ":lang=ja", "file", "style"], capture_output=True, text=True, check=False
    ).stdout
    for line in listing.splitlines():
        path = line.split(":", 1)[0].strip()
        if style in line and "Sans" in path:
            return Path(path)
    raise SystemExit(f"no Japanese {style} font found; install fonts-noto-cjk (apt) or pass --font")


def main(argv: list[str] | None = None) -> None:
    global BOLD_FONT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--font", type=Path, default=BOLD_FONT, help="a bold Japanese .ttc/.otf")
    args = parser.parse_args(argv)
    BOLD_FONT = _find_japanese_font(args.font, "Bold")

    for tile in TILES.values():
        if _contrast(tile.accent, CARD) < 4.5:
            raise SystemExit(f"{tile.intent}: accent too light to read on white (WCAG AA needs 4.5:1)")
    if [a.intent for a in RICH_MENU_AREAS] != list(TILES):
        raise SystemExit("TILES must list the same intents as bot.richmenu.RICH_MENU_AREAS")

    image = _to_palette(draw())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out, format="PNG", optimize=True)
    size = args.out.stat().st_size
    if size >= LINE_IMAGE_LIMIT:
        raise SystemExit(f"{args.out} is {size} bytes; LINE accepts under {LINE_IMAGE_LIMIT}")
    print(f"wrote {args.out} ({WIDTH}x{HEIGHT}, {size:,} bytes)")


if __name__ == "__main__":
    main()
