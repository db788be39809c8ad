"""``stylenet export``: a style to ONNX, or a Lightning checkpoint to a weights file."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import StylenetError
from ..io.files import check_output
from .common import EXIT_OK, file_label

NAME = "export"
HELP = "export weights to ONNX, or a checkpoint to weights"
DESCRIPTION = "Export a style to ONNX (dynamic height and width), or a Lightning .ckpt to a weights file."


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "weights", help="style name, weights file, a mix (mosaic:0.7,udnie:0.3), or .ckpt (with --format safetensors)"
    )
    s.add_argument("--network", help="the multi-style network that the style names select from")
    s.add_argument("--vgg", help="an AdaIN decoder's VGG weights, if not where its file's header says")
    s.add_argument("--format", choices=["onnx", "safetensors"], default="onnx", help="default: onnx")
    s.add_argument(
        "-o", "--output", help="output file, or a folder (an existing one, or a path ending in /) to write NAME.onnx in"
    )
    s.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def run(a: argparse.Namespace) -> int:
    from ..io.weights import checkpoint_to_weights

    src = Path(a.weights)
    if a.format == "safetensors":
        if src.suffix != ".ckpt":
            raise StylenetError(f"{src}: --format safetensors converts a Lightning .ckpt; this file is not one")
        out = Path(a.output or src.with_suffix(".safetensors"))
        checkpoint_to_weights(src, out, overwrite=a.overwrite)
    else:
        from ..infer.arbitrary import is_adain_file, load_decoder
        from ..infer.onnx import export_adain_onnx, export_onnx
        from ..styles.load import load

        out = Path(a.output or f"{file_label(a.weights)}.onnx")
        if a.output and (out.is_dir() or a.output.endswith(("/", os.sep))):  # a folder: the file goes in it
            out.mkdir(parents=True, exist_ok=True)
            out = out / f"{file_label(a.weights)}.onnx"
        check_output(out, a.overwrite, "--overwrite")
        from ..styles.registry import available_styles

        entry = None if src.is_file() else available_styles().get(a.weights)
        if (src.is_file() and is_adain_file(src)) or (entry is not None and entry.takes_painting):
            export_adain_onnx(load_decoder(a.weights if entry else src, a.vgg), out, opset=a.opset)
        else:
            export_onnx(load(a.weights, network=a.network), out, opset=a.opset)
    print(f"wrote {out}")
    return EXIT_OK
