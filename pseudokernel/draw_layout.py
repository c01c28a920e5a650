"""`pseudokernel layout`'s pictures: a loaded module's memory (6.1's core and init regions, or a
later kernel's allocation per kind), their permission bands (text RX, rodata RO, ro_after_init,
data RW NX), the sections in each, and where init,
exit and __this_module are. As text for a terminal and as SVG for slides.

Pure functions of the layout module/layout.py's module_layout() makes (plain data, as the
daemon sends it): nothing here reads a kernel.
"""

from __future__ import annotations

from html import escape

COLOURS = {"RX": "#f6c3c3", "RO": "#c3daf6", "RO after init": "#c8e6c9", "RW NX": "#fff1b8", "RWX": "#f0c3f6"}


def bands(region: dict, strict: bool) -> list[tuple[int, int, str, str]]:
    """(start, end, permission, what) of each band of a region, by offset: the ranges
    strict_rwx.c protects differently."""
    if not strict:
        return [(0, region["size"], "RWX", "all")] if region["size"] else []
    return [(b["start"], b["end"], b["perm"], b["type"]) for b in region["bands"] if b["end"] > b["start"]]


def _sections_in(layout: dict, region: dict, start: int, end: int) -> list[dict]:
    lo, hi = region["base"] + start, region["base"] + end
    return [s for s in layout["sections"] if lo <= s["addr"] < hi]


def _symbols_in(layout: dict, sec: dict) -> list[dict]:
    return [y for y in layout["symbols"] if sec["addr"] <= y["addr"] < sec["addr"] + max(sec["size"], 1)]


def _regions(layout: dict) -> list[tuple[str, dict]]:
    return [(r["name"], r) for r in layout["regions"] if r["size"]]


def _title(name: str, region: dict) -> str:
    base, size = region["base"], region["size"]
    note = ", freed after init: as it was at load" if region.get("freed") else ""
    return f"{name}  {base:#x}-{base + size:#x}  ({size} bytes{note})"


def draw_text(layout: dict) -> str:
    """The regions as boxes in a terminal, one band per permission, addresses on the left."""
    out = [f"{layout['name']} ({layout['state']})" + ("" if layout["strict_rwx"] else "  no STRICT_MODULE_RWX")]
    for name, region in _regions(layout):
        out += ["", _title(name, region)]
        for start, end, perm, what in bands(region, layout["strict_rwx"]):
            out.append(f"  {region['base'] + start:#x} +--- {perm} ({what}, {end - start} bytes) " + "-" * 8)
            for sec in _sections_in(layout, region, start, end):
                out.append(f"  {'':18} |  {sec['addr']:#x}  {sec['name']:<26} {sec['size']:>6}")
                for sym in _symbols_in(layout, sec):
                    out.append(f"  {'':18} |      <- {sym['what']}: {sym['symbol']} {sym['addr']:#x}")
        out.append(f"  {region['base'] + region['size']:#x} +---")
    return "\n".join(out) + "\n"


def draw_svg(layout: dict) -> str:
    """The same picture as an SVG: one column per region, bands coloured by permission, each
    band as tall as the lines it holds (pages of a few bytes would not be readable to scale)."""
    line, col_w, left = 16, 430, 150
    cols = []
    height = 0
    for i, (name, region) in enumerate(_regions(layout)):
        x = 20 + i * (col_w + left + 30)
        y = 50
        items = [f'<text x="{x}" y="{y - 10}" font-weight="bold">{escape(_title(name, region))}</text>']
        dash = ' stroke-dasharray="6 4" opacity="0.6"' if region.get("freed") else ""
        for start, end, perm, what in bands(region, layout["strict_rwx"]):
            rows = []
            for sec in _sections_in(layout, region, start, end):
                rows.append(f"{sec['name']}  {sec['addr']:#x}  {sec['size']}")
                rows += [f"  \u2190 {sym['what']}: {sym['symbol']}" for sym in _symbols_in(layout, sec)]
            h = line * (len(rows) + 1) + 8
            items.append(f'<rect x="{x + left}" y="{y}" width="{col_w}" height="{h}" fill="{COLOURS[perm]}" '
                         f'stroke="#333"{dash}/>')
            items.append(f'<text x="{x}" y="{y + 12}" font-size="11">{region["base"] + start:#x}</text>')
            items.append(f'<text x="{x + left + 6}" y="{y + line}" font-weight="bold">'
                         f'{escape(perm)}  {what}, {end - start} bytes</text>')
            for j, row in enumerate(rows):
                items.append(f'<text x="{x + left + 14}" y="{y + line * (j + 2)}" font-size="12">{escape(row)}</text>')
            y += h
        items.append(f'<text x="{x}" y="{y + 4}" font-size="11">{region["base"] + region["size"]:#x}</text>')
        cols.append("\n".join(items))
        height = max(height, y + 30)
    width = 20 + len(cols) * (col_w + left + 30)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="monospace" font-size="13">\n'
            f'<title>{escape(layout["name"])}: module memory layout</title>\n' + "\n".join(cols) + "\n</svg>\n")
