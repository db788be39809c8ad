#!/usr/bin/env python
"""Train a style: python scripts/train.py style=starry_night [overrides...]

A thin Hydra wrapper over stylenet.train.train(cfg). Examples:
  python scripts/train.py style=mosaic                      # COCO in data/coco, VGG from torchvision
  python scripts/train.py style=starry_night paths=shared data.image_size=128 trainer.max_steps=40
  python scripts/train.py style=custom style.image=/path/to/painting.jpg
  python scripts/train.py style=mosaic resume=latest        # continue the newest run of this style
  python scripts/train.py experiment=mosaic paths=shared    # a shipped style's full recipe
"""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

import stylenet.config  # noqa: F401  (registers the schema and resolvers)
from stylenet.cli_errors import check_group_overrides, report_errors
from stylenet.train import train

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with report_errors():
        train(cfg)


if __name__ == "__main__":
    check_group_overrides(CONFIG_DIR, sys.argv[1:])
    main()
