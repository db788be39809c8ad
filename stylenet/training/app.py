"""The Hydra application behind ``scripts/train.py`` and ``stylenet train``.

    stylenet train style=starry_night [group=option ...] [key=value ...]
    stylenet train -m style=mosaic,candy        # a sweep: one run per style

The configs ship inside the package (``stylenet/configs``), so an installed
package trains from any folder; runs go to ``runs/`` under the current folder.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from ..cli.errors import check_group_overrides, report_errors
from .config import CONFIG_DIR
from .train import train


@hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base="1.3")
def _app(cfg: DictConfig) -> None:
    with report_errors():
        train(cfg)


def main(argv: list[str] | None = None, prog: str = "scripts/train.py") -> None:
    """Run the training app with ``argv`` (default: the command line's arguments)."""
    args = sys.argv[1:] if argv is None else list(argv)
    check_group_overrides(CONFIG_DIR, args)
    sys.argv = [prog, *args]
    _app()
