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
  upsampled intermediate;
* the last convolution (32 -> 3 channels, 9x9; the compact network's 16 -> 3, 5x5), whose
  three outputs leave oneDNN's vector units mostly idle, runs over 4x4 blocks of pixels: a
  3x3 convolution from 16 x 32 to 16 x 3 channels at a quarter of the resolution, then a
  pixel shuffle (1.8x the multiply-adds, about twice as fast; the compact network's as a
  2x2 convolution, 2.6x the multiply-adds, still faster: docs/performance.md).

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


def block_kernels(w: torch.Tensor, s: int) -> torch.Tensor:
    """``(O, I, k, k)`` kernels -> the same convolution over ``s x s`` pixel blocks: ``(O s s, s s I, kb, kb)``.

    Output channel ``(o, a, b)`` is output pixel phase ``(a, b)`` of channel ``o`` (``pixel_shuffle``'s
    order); input channel ``(c, d, i)`` is input phase ``(c, d)`` of channel ``i`` (``to_blocks``' order).
    Tap ``u = s * di + c - a`` of the original kernel, zero outside it. Differentiable in ``w``.
    """
    k = w.shape[-1]
    kb = -(-(k + s - 1) // s)  # blocks that a k-pixel window spans at any phase
    phase = torch.arange(s, device=w.device)
    u = s * torch.arange(kb, device=w.device).view(1, 1, kb) + phase.view(1, s, 1) - phase.view(s, 1, 1)  # (a, c, di)
    u = torch.where((u >= 0) & (u < k), u, k)  # index k: the zero row and column padded on below
    taps = F.pad(w, (0, 1, 0, 1))[:, :, u][..., u]  # (O, I, a, c, di, b, d, dj)
    o, i = w.shape[:2]
    return taps.permute(0, 2, 5, 3, 6, 1, 4, 7).reshape(o * s * s, s * s * i, kb, kb)


def to_blocks(x: torch.Tensor, s: int) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, s s C, H / s, W / s)`` channels-last, channel ``(c, d, i)``: pixel ``(s p + c, s q + d)``
    of channel ``i``. From a channels-last input each block's row is one contiguous copy."""
    n, c, h, w = x.shape
    t = x.permute(0, 2, 3, 1).reshape(n, h // s, s, w // s, s, c).permute(0, 1, 3, 2, 4, 5)
    return t.reshape(n, h // s, w // s, s * s * c).permute(0, 3, 1, 2)


class FastBlockConv(nn.Conv2d):
    """A stride-1 convolution with few output channels, computed over ``BLOCK x BLOCK`` pixel blocks."""

    BLOCK = 4

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not _blockable(self, any_outputs=True):
            raise ValueError(
                f"FastBlockConv: kernel {self.kernel_size}, stride {self.stride}, padding {self.padding}, "
                f"dilation {self.dilation}, groups {self.groups}, bias {self.bias is not None}: it takes a square "
                "kernel, stride 1, no padding, dilation or groups, and a bias (pad the input instead)"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, k = self.BLOCK, self.kernel_size[0]
        h, w = x.shape[-2:]
        ho, wo = h - k + 1, w - k + 1
        if ho <= 0 or wo <= 0:
            raise ValueError(f"FastBlockConv: input {h}x{w} is smaller than its {k}x{k} kernel")
        kernels = block_kernels(self.weight, s)
        kb = kernels.shape[-1]
        ph, pw = s * (-(-ho // s) + kb - 1) - h, s * (-(-wo // s) + kb - 1) - w  # whole blocks (zeros: cropped)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        y = F.conv2d(to_blocks(x, s), kernels, self.bias.repeat_interleave(s * s))
        return F.pixel_shuffle(y, s)[:, :, :ho, :wo]


def _layout(t: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if t.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format


def _blockable(m: nn.Conv2d, any_outputs: bool = False) -> bool:
    """The output layer's shape: few outputs, a wide kernel, stride 1, no groups, dilation or padding
    (``any_outputs``: what ``FastBlockConv`` computes correctly, whatever it pays)."""
    k = m.kernel_size
    return (
        (any_outputs or (m.out_channels <= 4 and k[0] >= 5))
        and k[0] == k[1]
        and m.stride == (1, 1)
        and m.groups == 1
        and m.dilation == (1, 1)
        and m.padding == (0, 0)
        and m.bias is not None
    )


def speed_up(net: nn.Module) -> nn.Module:
    """Switch ``net``'s layers to their fast forms in place (same parameters and function)."""
    for m in net.modules():
        if type(m) is nn.InstanceNorm2d and m.affine:
            m.__class__ = FastInstanceNorm
        elif type(m) is UpsampleConv:
            m.__class__ = FastUpsampleConv
        elif type(m) is nn.Conv2d and _blockable(m):
            m.__class__ = FastBlockConv
    return net
