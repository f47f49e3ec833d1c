#!/usr/bin/env python3
"""Draws docs/read-path.svg: the read path of a cached call through the tiers.

Run from anywhere: python3 docs/read_path.py
"""

from pathlib import Path
from xml.sax.saxutils import escape

# (title, the module that owns the step, what the step answers with or does)
STEPS = [
    ("call", "cache/call.rs", "get_or_load(_async): key and Load (body, tags, background?)"),
    ("request scope", "scope/memo.rs", "#[request_memo], request_consistent: the request's first answer"),
    ("L1", "cache.rs, cache/store.rs", "fresh: answer (no lock, no allocation)"),
    ("verdict", "cache/policy.rs", "fresh | refresh due | stale | expired; stale_if_error age"),
    ("single-flight", "cache/flight.rs, cache/miss.rs", "join the key's load, or lead it; wait at most the timeout"),
    ("L2 tier", "cache/miss.rs, cache/distributed.rs, l2/", "through_l2, async: Redis through one gate; faults are misses"),
    ("body", "cache/load.rs, cache/runner.rs", "in the caller, or apart (thread pool / tokio task)"),
]

SIDE = {
    "L1": "stale or refresh due: answer, one background reload",
    "single-flight": "timed out: stale-if-error value, else LoadTimeout",
    "body": "error or panic: stale-if-error value, paced by retry_after",
}

BOX_W, BOX_H, GAP, LEFT, TOP = 470, 46, 22, 70, 50
SIDE_X = LEFT + BOX_W + 40
WIDTH = SIDE_X + 360
HEIGHT = TOP + len(STEPS) * (BOX_H + GAP) + 40


def box(i: int, title: str, module: str, note: str) -> str:
    y = TOP + i * (BOX_H + GAP)
    return (
        f'<rect x="{LEFT}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="#eef3fb" stroke="#3465a4"/>'
        f'<text x="{LEFT + 10}" y="{y + 18}" font-weight="bold">{escape(title)}</text>'
        f'<text x="{LEFT + BOX_W - 10}" y="{y + 18}" text-anchor="end" fill="#555" font-size="11">{escape(module)}</text>'
        f'<text x="{LEFT + 10}" y="{y + 36}" font-size="11">{escape(note)}</text>'
    )


def arrow(x1: float, y1: float, x2: float, y2: float, dashed: bool = False) -> str:
    dash = ' stroke-dasharray="5,4"' if dashed else ""
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#333" marker-end="url(#head)"{dash}/>'


def main() -> None:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        '<defs><marker id="head" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="28" font-size="14" font-weight="bold">'
        "A cached call: each tier answers or passes the miss down; values go back up</text>",
    ]
    for i, (title, module, note) in enumerate(STEPS):
        parts.append(box(i, title, module, note))
        y = TOP + i * (BOX_H + GAP)
        if i + 1 < len(STEPS):
            parts.append(arrow(LEFT + 60, y + BOX_H, LEFT + 60, y + BOX_H + GAP - 2))
        if title in SIDE:
            parts.append(arrow(LEFT + BOX_W, y + BOX_H / 2, SIDE_X - 4, y + BOX_H / 2, dashed=True))
            parts.append(f'<text x="{SIDE_X}" y="{y + BOX_H / 2 + 4}" font-size="11">{escape(SIDE[title])}</text>')
    # The way back up, left of the boxes: a load's value is stored in L1 once and written to
    # the tier beneath.
    body_mid = TOP + (len(STEPS) - 1) * (BOX_H + GAP) + BOX_H / 2
    l1_mid = TOP + 2 * (BOX_H + GAP) + BOX_H / 2
    x = LEFT - 22
    parts.append(f'<polyline points="{LEFT},{body_mid} {x},{body_mid} {x},{l1_mid}" fill="none" stroke="#3465a4"/>')
    parts.append(f'<line x1="{x}" y1="{l1_mid}" x2="{LEFT - 3}" y2="{l1_mid}" stroke="#3465a4" marker-end="url(#head)"/>')
    label_y = (body_mid + l1_mid) / 2
    parts.append(
        f'<text x="{x - 8}" y="{label_y}" text-anchor="middle" font-size="11" fill="#3465a4" '
        f'transform="rotate(-90 {x - 8} {label_y})">the value: stored in L1 once, written to the L2</text>'
    )
    parts.append("</svg>\n")
    out = Path(__file__).resolve().parent / "read-path.svg"
    out.write_text("".join(parts))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
