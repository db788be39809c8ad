#!/usr/bin/env python
"""Train a style: python scripts/train.py style=starry_night [overrides...]

A thin wrapper over stylenet.training.app (the same app as `stylenet train`), which
runs stylenet.training.train.train(cfg) with a composed Hydra config. Examples:
  python scripts/train.py style=mosaic                      # COCO in data/coco, VGG from torchvision
  python scripts/train.py style=starry_night paths=shared data.image_size=128 trainer.max_steps=40
  python scripts/train.py style=custom style.image=/path/to/painting.jpg
  python scripts/train.py style=mosaic resume=latest        # continue the newest run of this style
  python scripts/train.py experiment=johnson style=mosaic   # Johnson et al.'s full recipe for a style
  python scripts/train.py styles=classic paths=shared       # one network for the ten classic styles
  python scripts/train.py -m style=mosaic,candy             # a sweep: one run each
"""

from stylenet.training.app import main

if __name__ == "__main__":
    main()
