"""``stylenet styles``: the styles ``load`` finds, with their model cards."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import EXIT_OK

NAME = "styles"
HELP = "list available styles"
DESCRIPTION = "List styles with their model cards."


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--json", action="store_true", help="print the full cards as JSON")


def _steps(card: dict) -> str:
    """A card's training steps as people read them: the total behind the weights where the card
    records it (``total_steps``), else the last run's, naming the file it fine-tuned."""
    steps, total = card.get("steps"), card.get("total_steps")
    if total is not None and total != steps:
        return f"{total} ({steps} in the last run)"
    init = card.get("recipe", {}).get("init_weights")
    if init and total is None:
        return f"{steps} (fine-tune of {Path(str(init).split(' ')[0]).stem})"
    return str(steps if steps is not None else "")


def run(a: argparse.Namespace) -> int:
    from ..styles.registry import available_styles

    styles = available_styles()
    if a.json:
        print(
            json.dumps(
                {n: {"origin": s.origin, "sha256": s.sha256, "card": s.card} for n, s in styles.items()}, indent=2
            )
        )
        return EXIT_OK
    if not styles:
        print("no styles available; train one (scripts/train.py) and `stylenet install` it")
        return EXIT_OK
    rows = [("name", "origin", "network", "artwork", "licence", "steps")]
    for n, s in styles.items():
        img = s.card.get("style_image", {})
        network = f"{s.file.stem} (multi-style)" if s.row else f"{len(s.styles)} styles" if s.styles else "own file"
        title, licence = img.get("title", "")[:40], img.get("licence", "")[:40]
        if s.takes_painting:
            network, title = f"{s.card['model']} (any painting)", "--style-image painting.jpg"
        rows.append((n, s.origin, network, title, licence, _steps(s.card)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return EXIT_OK
