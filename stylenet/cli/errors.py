"""Turning user mistakes into one-line errors with exit status 2, for every entry point."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import StylenetError


def fail(message: str, status: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(status)


@contextlib.contextmanager
def report_errors() -> Iterator[None]:
    """``StylenetError`` and an output that exists or is a folder (``FileExistsError``, from
    ``stylenet.io.files.check_output``) -> one line on stderr and exit 2; Ctrl-C -> exit 130."""
    try:
        yield
    except (StylenetError, FileExistsError) as e:
        fail(str(e))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


def check_group_overrides(config_dir: Path, args: list[str]) -> None:
    """``group=option`` overrides naming no config file fail with the available options.

    Hydra would say so too, but over several lines; this names the value and the fix in one.
    """
    if any(a.startswith(("--config-dir", "-cd", "--config-path", "-cp")) for a in args):
        return  # options may come from the user's own config folder: Hydra checks them
    for arg in args:
        key, sep, value = arg.partition("=")
        key = key.lstrip("+~")
        group = config_dir / key
        if not sep or "." in key or not group.is_dir() or value in ("null", ""):
            continue
        if "(" in value:  # a sweep function (choice, range, glob): Hydra checks its values
            continue
        for option in value.split(","):  # a multirun sweep: style=mosaic,candy
            if not (group / f"{option}.yaml").is_file():
                options = sorted(p.stem for p in group.glob("*.yaml"))
                hint = (
                    "; or train on any image with style=custom style.image=/path/to/painting.jpg"
                    if key == "style"
                    else ""
                )
                fail(f"unknown {key} {option!r}; available: {', '.join(options)}{hint}")
