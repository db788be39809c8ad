#!/usr/bin/env python
"""Combine multi-style networks that share their convolutions into one network file.

  python scripts/combine_styles.py OUT.safetensors classic runs/rows/*/*.safetensors [--half]

Each input is a style name, a registry name or a weights file; every input must hold the same
convolutions (rows added with ``train_only=norm`` from one network, one run each). The output holds
every row once, in order (``stylenet.styles.mix.combine``), each later network's run recorded in its
new rows' card blocks: rows trained apart, served by one network, in a file the size of one.
"""

from __future__ import annotations

import argparse
import sys

from stylenet.cli.errors import report_errors


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("output", help="the combined network's file (.safetensors)")
    p.add_argument("inputs", nargs="+", help="multi-style networks (names or files), the first one's rows first")
    p.add_argument("--half", action="store_true", help="store float16 (the shipped networks' precision)")
    p.add_argument("--overwrite", action="store_true")
    a = p.parse_args(argv)
    with report_errors():
        import stylenet
        from stylenet.errors import StylenetError
        from stylenet.io.files import check_output
        from stylenet.io.weights import save_weights
        from stylenet.styles.mix import combine

        check_output(a.output, a.overwrite)  # before any work
        if not a.output.endswith(".safetensors"):
            raise StylenetError(f"{a.output}: name the combined network NAME.safetensors")
        nets = [stylenet.load(spec) for spec in a.inputs]
        for spec, net in zip(a.inputs, nets):
            if not net.num_styles:
                raise StylenetError(f"{spec}: a one-style network; combine multi-style networks (train_only=norm rows)")
        net = combine(nets, labels=a.inputs)
        path = save_weights(net, a.output, net.card, half=a.half, overwrite=a.overwrite)
        print(f"{path}: {net.num_styles} styles ({', '.join(net.style_names)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
