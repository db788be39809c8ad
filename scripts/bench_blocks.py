"""The output layer over pixel blocks against the plain convolution, in the same fast copy.

    python scripts/bench_blocks.py --size 1024 --rounds 5     # docs/performance.md, "The output layer over pixel blocks"

For each network (johnson, compact) and precision this machine runs (fp32; bf16 where native),
the inference fast copy (``stylenet.infer.runner``) is timed with its output layer as
``FastBlockConv`` and as the plain ``nn.Conv2d`` it replaces, alternating, freed memory kept as
``stylenet stylize`` keeps it. Medians over the rounds; the ratio is plain / blocks.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from stylenet import precision
from stylenet.infer import memory
from stylenet.infer.runner import Runner
from stylenet.model.fast import FastBlockConv
from stylenet.quality.bench import random_net


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    memory.keep_freed_memory()
    x = torch.rand(1, 3, a.size, a.size)
    precisions = ["fp32", "bf16"] if precision.native_bf16(torch.device("cpu")) else ["fp32"]
    print(f"{'network':8s} {'precision':9s} {'blocks ms':>10s} {'plain ms':>9s} {'plain/blocks':>13s}")
    for model in ("johnson", "compact"):
        for prec in precisions:
            run, net = Runner("cpu", prec), random_net(model)
            (layer,) = [m for m in run.fast(net).modules() if type(m) is FastBlockConv]
            times: dict[type, list[float]] = {FastBlockConv: [], nn.Conv2d: []}
            for _ in range(a.rounds):
                for cls in times:
                    layer.__class__ = cls  # the same parameters either way
                    run(net, x)  # warm-up: this variant's steady state
                    start = time.perf_counter()
                    run(net, x)
                    times[cls].append(time.perf_counter() - start)
            b, p = (statistics.median(times[c]) * 1000 for c in (FastBlockConv, nn.Conv2d))
            print(f"{model:8s} {prec:9s} {b:10.0f} {p:9.0f} {p / b:12.2f}x")
    print(
        f"(medians of {a.rounds} alternating rounds at {a.size}x{a.size}; torch {torch.__version__}; "
        f"CPU: {precision.describe_cpu()}; freed memory kept)"
    )


if __name__ == "__main__":
    main()
