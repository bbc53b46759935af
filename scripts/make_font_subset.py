"""One-off: subset Noto Sans CJK SC to GB 2312 + ASCII so GridMap renders Chinese on a fresh machine.

Noto Sans CJK is under the SIL Open Font License 1.1, which permits subsetting and
bundling; the licence text is committed beside the font.

Usage: apt-get install fonts-noto-cjk && pip install fonttools && python scripts/make_font_subset.py
"""

from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
OUT = Path(__file__).resolve().parents[1] / "gridmap" / "resources" / "fonts" / "GridMapSansSC-Regular.otf"


def gb2312_text():
    chars = []
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return "".join(chars) + "".join(chr(c) for c in range(0x20, 0x7F)) + "猇垭岔鑫睿萱梓涵轩琳瑶婷倩颖茜"


def main():
    collection = TTCollection(str(SOURCE))
    font = next(f for f in collection.fonts if "SC" in f["name"].getDebugName(1))
    options = subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.layout_features = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=gb2312_text())
    subsetter.subset(font)
    # A new family name: the OFL asks modified versions not to use the original's.
    for record in font["name"].names:
        if record.nameID in (1, 4, 16):
            record.string = "GridMap Sans SC"
        elif record.nameID == 6:
            record.string = "GridMapSansSC-Regular"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(OUT))
    print(OUT, OUT.stat().st_size)


if __name__ == "__main__":
    main()
