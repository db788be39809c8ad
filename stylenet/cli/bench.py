"""``stylenet bench``: inference, training or video speed against an eager fp32 baseline (``stylenet.quality.bench``)."""

from __future__ import annotations

import argparse

NAME = "bench"
HELP = "measure inference, training, video or painting-as-style speed"
DESCRIPTION = "Time stylenet's paths against an eager fp32 baseline in the same run (medians)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..quality.bench import VIDEO_SIZES

    p.add_argument("what", choices=["inference", "training", "video", "painting"])
    p.add_argument("--size", type=int, help="image side (inference, painting: 1024; training crops: 256)")
    p.add_argument("--batch", type=int, default=4, help="training batch (default 4)")
    p.add_argument("--model", choices=["johnson", "compact"], default="johnson")
    p.add_argument(
        "--weights",
        help="inference: a style or weights file instead of random weights; painting: a predictor or AdaIN file (default: the shipped predictor)",
    )
    p.add_argument("--vgg", default="random", help="training, painting: VGG weights (speed does not depend on them)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    p.add_argument("--compile", action="store_true", help="also time the torch.compile paths")
    p.add_argument("--emulated", action="store_true", help="also time bf16 where this CPU only emulates it (slow)")
    p.add_argument("--adain", action="store_true", help="painting: also time an AdaIN network (random weights)")
    p.add_argument("--onnx", action="store_true", help="also time ONNX Runtime (inference)")
    p.add_argument("--styles", type=int, default=0, help="training: also time a multi-style network of N styles")
    p.add_argument("--sizes", default=VIDEO_SIZES, help=f"video: frame sizes WxH (default {VIDEO_SIZES})")
    p.add_argument("--no-rss", dest="rss", action="store_false", help="video: skip the peak-memory processes")
    p.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="inference, painting, video: stylenet's paths keep freed memory, as stylenet stylize and video do "
        "(stylenet.infer.memory); the plain paths run under glibc's policy",
    )


def run(a: argparse.Namespace) -> int:
    from ..quality import bench

    return bench.run(a)
