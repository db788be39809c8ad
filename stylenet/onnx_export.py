"""ONNX export with dynamic batch, height and width (``stylenet export --format onnx``)."""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import torch

from .files import atomic_write
from .transformer import TransformerNet


def export_onnx(net: TransformerNet, path: str | os.PathLike, opset: int = 18) -> Path:
    """Write ``net`` (float32, CPU) as ONNX: input ``image`` and output ``stylized``, ``(N, 3, H, W)`` in [0, 1]."""
    path = Path(path)
    net = copy.deepcopy(net).float().cpu().eval()  # the caller's network stays where it is
    example = torch.rand(1, 3, 64, 96)
    h, w = (torch.export.Dim(name, min=8, max=16384) for name in ("height", "width"))
    n = torch.export.Dim("batch", min=1, max=1024)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            net,
            (example,),
            input_names=["image"],
            output_names=["stylized"],
            dynamic_shapes={"x": {0: n, 2: h, 3: w}},
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
    with atomic_write(path, overwrite=True) as tmp:
        program.save(str(tmp))
    return path
