"""The image transformation network of Johnson et al. (2016).

"Perceptual Losses for Real-Time Style Transfer and Super-Resolution",
https://arxiv.org/abs/1603.08155, supplementary material, with two later
improvements that every maintained implementation adopted:

* instance normalisation instead of batch normalisation (Ulyanov et al. 2016,
  https://arxiv.org/abs/1607.08022), with affine parameters;
* nearest-neighbour upsampling followed by a convolution instead of transposed
  convolutions, which leave checkerboard artefacts (Odena et al. 2016,
  https://distill.pub/2016/deconv-checkerboard/).

Layout (width 32): c9s1-32, d64, d128, R128 x 5, u64, u32, c9s1-3, all
convolutions reflection-padded. The output passes through a sigmoid so that
it is bounded to [0, 1] like every image in this library: an unbounded output
layer lets a long run drift into a state it never recovers from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

# The network halves the resolution twice; inputs are padded to a multiple of this.
STRIDE = 4
# Smallest side the network accepts (reflection padding needs a few pixels).
MIN_SIDE = 8


@dataclass(frozen=True)
class NetConfig:
    """Architecture arguments; stored in every weights file."""

    width: int = 32  # channels of the first layer; doubled at each downsampling
    blocks: int = 5  # residual blocks at 1/4 resolution
    depthwise: bool = False  # depthwise-separable residual convolutions (compact nets)
    edge_kernel: int = 9  # kernel of the first and last convolutions (c9s1 in the paper)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def receptive_radius(self) -> int:
        """How many pixels away an input pixel can change an output pixel (54 for the default)."""
        # c9: 4, two stride-2 3x3: 1 + 2, residual 3x3 pairs at 1/4 resolution: 8 each, u64: 2, u32: 1, c9: 4
        edge = self.edge_kernel // 2
        return edge + 1 + 2 + 8 * self.blocks + 2 + 1 + edge

    @classmethod
    def from_dict(cls, d: dict) -> NetConfig:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown network arguments {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**d)


class ConvLayer(nn.Sequential):
    """Reflection padding followed by a convolution ("c" and "d" layers)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride, groups=groups))


class ConvNormReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__(ConvLayer(cin, cout, kernel, stride), nn.InstanceNorm2d(cout, affine=True), nn.ReLU())


class UpsampleConv(nn.Sequential):
    """Nearest-neighbour 2x upsampling, then a convolution ("u" layers)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvNormReLU(cin, cout, kernel))


def _conv3(c: int, depthwise: bool) -> nn.Module:
    if not depthwise:
        return ConvLayer(c, c, 3)
    return nn.Sequential(ConvLayer(c, c, 3, groups=c), nn.Conv2d(c, c, 1))


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with instance norm and an identity shortcut (He et al. 2016)."""

    def __init__(self, c: int, depthwise: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            _conv3(c, depthwise),
            nn.InstanceNorm2d(c, affine=True),
            nn.ReLU(),
            _conv3(c, depthwise),
            nn.InstanceNorm2d(c, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TransformerNet(nn.Module):
    """Feed-forward style transfer network: images in [0, 1] in, images in [0, 1] out.

    Any height and width of at least ``MIN_SIDE`` gives an output of exactly the
    same size: inputs are reflection-padded to a multiple of 4 and the output is
    cropped back.
    """

    def __init__(self, width: int = 32, blocks: int = 5, depthwise: bool = False, edge_kernel: int = 9):
        super().__init__()
        self.config = NetConfig(width=width, blocks=blocks, depthwise=depthwise, edge_kernel=edge_kernel)
        self.card: dict = {}  # model card of loaded weights (see stylenet.export)
        w = width
        self.encoder = nn.Sequential(
            ConvNormReLU(3, w, edge_kernel),  # c9s1-32
            ConvNormReLU(w, 2 * w, 3, stride=2),  # d64
            ConvNormReLU(2 * w, 4 * w, 3, stride=2),  # d128
        )
        self.residuals = nn.Sequential(*[ResidualBlock(4 * w, depthwise) for _ in range(blocks)])
        self.decoder = nn.Sequential(
            UpsampleConv(4 * w, 2 * w),  # u64
            UpsampleConv(2 * w, w),  # u32
            ConvLayer(w, 3, edge_kernel),  # c9s1-3
        )

    @classmethod
    def from_config(cls, config: NetConfig | dict) -> TransformerNet:
        if isinstance(config, dict):
            config = NetConfig.from_dict(config)
        return cls(**config.to_dict())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % STRIDE, (-w) % STRIDE
        if pad_h or pad_w or torch.compiler.is_compiling():  # traced graphs must pad for any size
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
        y = self.decoder(self.residuals(self.encoder(x)))
        return torch.sigmoid(y[..., :h, :w])
