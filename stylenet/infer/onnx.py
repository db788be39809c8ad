"""ONNX export with dynamic batch, height and width (``stylenet export --format onnx``).

Inputs: ``image`` ``(N, 3, H, W)`` in [0, 1]; ``strength`` (a float scalar: 1 full
style, 0 the photo); ``preserve_color`` (a float scalar: 0 off, 1 the photo's
colours); and, for a multi-style network, ``style``: ``(S,)`` weights over its S
styles (one-hot for one style, a convex combination to mix; their names, in order,
are in the model's metadata ``styles``). Output: ``stylized``, ``(N, 3, H, W)``.

An AdaIN decoder or a style predictor (``export_adain_onnx``) exports with the painting as an input
instead: ``image``, ``style`` (the painting, ``(1, 3, Hs, Ws)``), ``strength`` (AdaIN's alpha; a
predictor's interpolation with the photo's own embedding) and ``preserve_color``.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..io.files import atomic_write
from ..model.transformer import MIN_SIDE, ConditionalInstanceNorm2d, TransformerNet
from .controls import apply_controls


class _ExportedConditionalNorm(ConditionalInstanceNorm2d):
    """The same function as ``ConditionalInstanceNorm2d``, as instance norm then each sample's affine:
    its fused group norm takes the batch size into the group count, which fixes the graph's batch."""

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        m = mix.to(self.weight.dtype)[:, :, None]
        gamma, beta = (m * self.weight).sum(1), (m * self.bias).sum(1)  # (B, C)
        return F.instance_norm(x, eps=self.eps) * gamma[:, :, None, None] + beta[:, :, None, None]


class Controlled(nn.Module):
    """A network with the output controls as graph inputs (what the ONNX file computes)."""

    def __init__(self, net: TransformerNet):
        super().__init__()
        self.net = net

    def forward(
        self,
        image: torch.Tensor,
        strength: torch.Tensor,
        preserve_color: torch.Tensor,
        style: torch.Tensor | None = None,
    ) -> torch.Tensor:
        y = self.net(image, style) if self.net.num_styles else self.net(image)
        return apply_controls(y, image, strength, preserve_color)


def _graph(wrapper: type[nn.Module], net: nn.Module) -> nn.Module:
    """``wrapper`` around a float32 CPU copy of ``net`` (the caller's network stays where it is), its
    conditional norms in the exportable form."""
    model = wrapper(copy.deepcopy(net).float().cpu().eval())
    for m in model.modules():
        if type(m) is ConditionalInstanceNorm2d:
            m.__class__ = _ExportedConditionalNorm  # a dynamic batch
    return model


def _write(model: nn.Module, example: tuple, shapes: dict, opset: int, metadata: dict, path: Path) -> Path:
    """Trace ``model`` on ``example`` (inputs named as ``shapes``' keys, in order) and write it atomically."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            example,
            input_names=list(shapes),
            output_names=["stylized"],
            dynamic_shapes=shapes,
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
    program.model.metadata_props.update(metadata)
    with atomic_write(path, overwrite=True) as tmp:
        program.save(str(tmp))
    return path


def export_onnx(net: TransformerNet, path: str | os.PathLike, opset: int = 18) -> Path:
    """Write ``net`` (float32, CPU) as ONNX with the inputs and output described above."""
    example = [torch.rand(2, 3, 64, 96), torch.tensor(1.0), torch.tensor(0.0)]  # batch 2: 1 would be fixed
    h, w = (torch.export.Dim(name, min=MIN_SIDE, max=16384) for name in ("height", "width"))
    n = torch.export.Dim("batch", min=1, max=1024)
    shapes = {"image": {0: n, 2: h, 3: w}, "strength": None, "preserve_color": None}
    if net.num_styles:
        example.append(torch.full((net.num_styles,), 1.0 / net.num_styles))
        shapes["style"] = None
    metadata = {"styles": json.dumps(list(net.style_names))}
    return _write(_graph(Controlled, net), tuple(example), shapes, opset, metadata, Path(path))


# -- AdaIN: any painting as an input ---------------------------------------------------------
class _AdaINGraph(nn.Module):
    """``AdaINNet`` with the painting, alpha and colour preservation as graph inputs."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(
        self, image: torch.Tensor, style: torch.Tensor, strength: torch.Tensor, preserve_color: torch.Tensor
    ) -> torch.Tensor:
        from ..model.adain import STRIDE, adain, channel_stats

        h, w = image.shape[-2:]
        x = F.pad(image, (0, (STRIDE - w % STRIDE) % STRIDE, 0, (STRIDE - h % STRIDE) % STRIDE), mode="reflect")
        feat = self.net.encode(x)
        t = adain(feat, *channel_stats(self.net.encode(style)))
        t = strength * t + (1 - strength) * feat
        y = self.net.decoder(t)[..., :h, :w]
        return apply_controls(y, image, 1.0, preserve_color)


class _PredictorGraph(_AdaINGraph):
    """``StylePredictor`` with the painting, strength and colour preservation as graph inputs."""

    def forward(
        self, image: torch.Tensor, style: torch.Tensor, strength: torch.Tensor, preserve_color: torch.Tensor
    ) -> torch.Tensor:
        return apply_controls(self.net(image, style, strength), image, 1.0, preserve_color)


def export_adain_onnx(net, path: str | os.PathLike, opset: int = 18) -> Path:
    """Write an ``AdaINNet`` or a ``StylePredictor`` (float32, CPU) as ONNX. Inputs: ``image`` ``(N, 3, H, W)`` and
    ``style`` ``(1, 3, Hs, Ws)`` in [0, 1] (dynamic sizes; one painting for every photo; the painting as it is, not
    resized: scale it as ``stylenet.infer.arbitrary.read_painting`` does, shorter side 512 for AdaIN, the predictor's
    ``style_size`` (its card), to match ``stylize``); ``strength`` (a float scalar: 1 full style; 0: AdaIN's
    reconstruction of the photo, a predictor's photo in its own style) and ``preserve_color`` (0 or 1).
    Output: ``stylized`` ``(N, 3, H, W)``."""
    from ..model.adain import MIN_SIDE as ADAIN_MIN_SIDE
    from .arbitrary import is_predictor

    predictor = is_predictor(net)
    example = (torch.rand(2, 3, 64, 72), torch.rand(1, 3, 48, 56), torch.tensor(1.0), torch.tensor(0.0))
    n = torch.export.Dim("batch", min=1, max=1024)
    h, w = (torch.export.Dim(name, min=ADAIN_MIN_SIDE, max=16384) for name in ("height", "width"))
    sh, sw = (torch.export.Dim(name, min=ADAIN_MIN_SIDE, max=16384) for name in ("style_height", "style_width"))
    shapes = {"image": {0: n, 2: h, 3: w}, "style": {2: sh, 3: sw}, "strength": None, "preserve_color": None}
    metadata = {"stylenet": "predictor" if predictor else "adain", "card": json.dumps(getattr(net, "card", {}))}
    model = _graph(_PredictorGraph if predictor else _AdaINGraph, net)
    return _write(model, example, shapes, opset, metadata, Path(path))
