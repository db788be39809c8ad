"""Fast paths: the same network function, rearranged for speed.

``speed_up(net)`` switches a ``TransformerNet``'s layers, in place, to faster
implementations of the same function; parameters, their names and the
``state_dict`` stay exactly as they were, so training and checkpoints are unaffected:

* instance norm runs as a one-image batch norm (whose kernel keeps channels-last
  layouts) or, for batches, as a group norm with one channel per group (whose
  backward pass is several times faster than ``instance_norm``'s);
* upsample-then-convolve runs in "sub-pixel" form: after nearest-neighbour
  upsampling each output phase is a 2x2 filter of the input, so one 2x2
  convolution at the low resolution with four times the output channels, then a
  pixel interleave, gives the same result with 4/9 of the multiply-adds and no
  upsampled intermediate.

Training runs these layers (``StyleTransferModule.speed_up``), and so does inference
through ``stylenet.infer.runner``. Measured by ``stylenet bench`` (docs/performance.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .transformer import UpsampleConv


class FastInstanceNorm(nn.InstanceNorm2d):
    """Instance norm via batch norm (one image) or group norm (a batch): same function."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 1:
            return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
        return F.group_norm(x, self.num_features, self.weight, self.bias, self.eps)


def subpixel_kernels(w: torch.Tensor) -> torch.Tensor:
    """3x3 kernels ``(O, I, 3, 3)`` -> the four phases' 2x2 kernels ``(4 O, I, 2, 2)``.

    Along one axis, output phase 0 sees input pixels {i-1, i} with taps (w0, w1 + w2)
    and phase 1 sees {i, i+1} with taps (w0 + w1, w2). Differentiable in ``w``.
    """

    def merge(v: torch.Tensor, phase: int) -> torch.Tensor:  # last axis: 3 taps -> 2
        if phase == 0:
            return torch.stack([v[..., 0], v[..., 1] + v[..., 2]], dim=-1)
        return torch.stack([v[..., 0] + v[..., 1], v[..., 2]], dim=-1)

    return torch.cat([merge(merge(w, b).transpose(2, 3), a).transpose(2, 3) for a in (0, 1) for b in (0, 1)])


class FastUpsampleConv(UpsampleConv):
    """``UpsampleConv`` (upsample, reflect-pad, 3x3 conv, norm, ReLU) in sub-pixel form.

    Reflection padding of the upsampled image is replicate padding of the input.
    """

    def forward(self, x: torch.Tensor, mix: torch.Tensor | None = None) -> torch.Tensor:
        conv, norm, relu = self[1][0][1], self[1][1], self[1][2]
        n, _, h, w = x.shape
        o = conv.out_channels
        if torch.compiler.is_compiling():  # F.pad's replicate backward does not compile (torch 2.14)
            x = torch.cat([x[:, :, :1], x, x[:, :, -1:]], dim=2)
            x = torch.cat([x[..., :1], x, x[..., -1:]], dim=3)
        else:
            x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        z = F.conv2d(x, subpixel_kernels(conv.weight), conv.bias.repeat(4))
        y = torch.empty(n, o, 2 * h, 2 * w, dtype=z.dtype, device=z.device, memory_format=_layout(z))
        for k, (a, b) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):  # interleave the phases
            y[:, :, a::2, b::2] = z[:, k * o : (k + 1) * o, a : a + h, b : b + w]
        return relu(norm(y) if mix is None else norm(y, mix))


def _layout(t: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if t.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format


def speed_up(net: nn.Module) -> nn.Module:
    """Switch ``net``'s layers to their fast forms in place (same parameters and function)."""
    for m in net.modules():
        if type(m) is nn.InstanceNorm2d and m.affine:
            m.__class__ = FastInstanceNorm
        elif type(m) is UpsampleConv:
            m.__class__ = FastUpsampleConv
    return net
