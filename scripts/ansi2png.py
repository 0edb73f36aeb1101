#!/usr/bin/env python3
"""Render a terminal capture with ANSI colours (tmux capture-pane -p -e) into a PNG.

usage: ansi2png.py CAPTURE.ansi OUT.png [--cols N --rows N]

Handles SGR: reset, bold, dim, italic, underline, reverse, 16 / 256 / 24-bit colours. Block
elements are drawn as rectangles (crisp at any font size); everything else with DejaVu Sans Mono.
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
SIZE = 15
DEFAULT_FG = (208, 208, 208)
DEFAULT_BG = (24, 24, 28)

BASE16 = [
    (0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16),
    (36, 114, 200), (188, 63, 188), (17, 168, 205), (229, 229, 229),
    (102, 102, 102), (241, 76, 76), (35, 209, 139), (245, 245, 67),
    (59, 142, 234), (214, 112, 214), (41, 184, 219), (255, 255, 255),
]


def xterm256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


# Light box drawing: (left, right, up, down) arms, drawn so borders join across rows.
BOX = {
    "─": (1, 1, 0, 0), "│": (0, 0, 1, 1), "┌": (0, 1, 0, 1), "┐": (1, 0, 0, 1),
    "└": (0, 1, 1, 0), "┘": (1, 0, 1, 0), "├": (0, 1, 1, 1), "┤": (1, 0, 1, 1),
    "┬": (1, 1, 0, 1), "┴": (1, 1, 1, 0), "┼": (1, 1, 1, 1),
}


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = False
        self.dim = False
        self.italic = False
        self.underline = False
        self.reverse = False

    def copy(self):
        s = Style()
        s.__dict__.update(self.__dict__)
        return s


def apply_sgr(style, params):
    codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            style.reset()
        elif c == 1:
            style.bold = True
        elif c == 2:
            style.dim = True
        elif c == 3:
            style.italic = True
        elif c == 4:
            style.underline = True
        elif c == 7:
            style.reverse = True
        elif c == 22:
            style.bold = style.dim = False
        elif c == 23:
            style.italic = False
        elif c == 24:
            style.underline = False
        elif c == 27:
            style.reverse = False
        elif 30 <= c <= 37:
            style.fg = BASE16[c - 30]
        elif 90 <= c <= 97:
            style.fg = BASE16[c - 90 + 8]
        elif 40 <= c <= 47:
            style.bg = BASE16[c - 40]
        elif 100 <= c <= 107:
            style.bg = BASE16[c - 100 + 8]
        elif c == 39:
            style.fg = None
        elif c == 49:
            style.bg = None
        elif c in (38, 48) and i + 1 < len(codes):
            if codes[i + 1] == 5 and i + 2 < len(codes):
                color = xterm256(codes[i + 2])
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                color = tuple(codes[i + 2:i + 5])
                i += 4
            else:
                color = None
            if c == 38:
                style.fg = color
            else:
                style.bg = color
        i += 1


TOKEN = re.compile(r"\x1b\[([0-9;]*)m|\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|(.)", re.S)


def parse(text):
    rows = []
    style = Style()
    for line in text.split("\n"):
        cells = []
        for m in TOKEN.finditer(line):
            if m.group(1) is not None or (m.group(2) is None):
                if m.group(1) is not None:
                    apply_sgr(style, m.group(1))
                continue
            ch = m.group(2)
            if ch == "\r":
                continue
            cells.append((ch, style.copy()))
        rows.append(cells)
    return rows


def main():
    src, out = sys.argv[1], sys.argv[2]
    text = open(src, encoding="utf-8", errors="replace").read()
    rows = parse(text.rstrip("\n"))
    cols = max((len(r) for r in rows), default=80)
    if "--cols" in sys.argv:
        cols = int(sys.argv[sys.argv.index("--cols") + 1])
    nrows = len(rows)
    if "--rows" in sys.argv:
        nrows = int(sys.argv[sys.argv.index("--rows") + 1])
    regular = ImageFont.truetype(FONT_DIR + "DejaVuSansMono.ttf", SIZE)
    bold = ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Bold.ttf", SIZE)
    italic = ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Oblique.ttf", SIZE)
    cw = round(regular.getlength("M"))
    ascent, descent = regular.getmetrics()
    ch_h = ascent + descent + 1
    img = Image.new("RGB", (cols * cw + 16, nrows * ch_h + 16), DEFAULT_BG)
    draw = ImageDraw.Draw(img)
    for y, row in enumerate(rows[:nrows]):
        for x, (ch, st) in enumerate(row[:cols]):
            fg = st.fg or DEFAULT_FG
            bg = st.bg or DEFAULT_BG
            if st.reverse:
                fg, bg = bg, fg
            if st.dim:
                fg = tuple((a + b) // 2 for a, b in zip(fg, bg))
            px, py = 8 + x * cw, 8 + y * ch_h
            if bg != DEFAULT_BG:
                draw.rectangle([px, py, px + cw - 1, py + ch_h - 1], fill=bg)
            code = ord(ch)
            if ch == " ":
                pass
            elif 0x2581 <= code <= 0x2588:  # lower eighth blocks .. full block
                h = round(ch_h * (code - 0x2580) / 8)
                draw.rectangle([px, py + ch_h - h, px + cw - 1, py + ch_h - 1], fill=fg)
            elif 0x2800 <= code <= 0x28FF:  # braille: 2 x 4 dots
                bits = code - 0x2800
                dots = [(0, 0, 0x01), (0, 1, 0x02), (0, 2, 0x04), (1, 0, 0x08),
                        (1, 1, 0x10), (1, 2, 0x20), (0, 3, 0x40), (1, 3, 0x80)]
                r = max(1, cw // 6)
                for dx, dy, bit in dots:
                    if bits & bit:
                        cx = px + cw * (1 + 2 * dx) / 4
                        cy = py + ch_h * (1 + 2 * dy) / 8
                        draw.rectangle([cx - r, cy - r, cx + r - 1, cy + r - 1], fill=fg)
            elif ch in BOX:
                left, right, up, down = BOX[ch]
                mx, my = px + cw // 2, py + ch_h // 2
                if left:
                    draw.line([px, my, mx, my], fill=fg)
                if right:
                    draw.line([mx, my, px + cw - 1, my], fill=fg)
                if up:
                    draw.line([mx, py, mx, my], fill=fg)
                if down:
                    draw.line([mx, my, mx, py + ch_h - 1], fill=fg)
            elif code == 0x2580:  # upper half
                draw.rectangle([px, py, px + cw - 1, py + ch_h // 2 - 1], fill=fg)
            else:
                font = bold if st.bold else italic if st.italic else regular
                draw.text((px, py), ch, font=font, fill=fg)
            if st.underline:
                draw.line([px, py + ch_h - 2, px + cw - 1, py + ch_h - 2], fill=fg)
    img.save(out)


if __name__ == "__main__":
    main()
