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
convolutions reflection-padded.

One network can hold many styles (``num_styles=N``): every convolution is shared
and each norm layer keeps a table of N (gamma, beta) rows, conditional instance
norm (Dumoulin, Shlens & Kudlur 2017, https://arxiv.org/abs/1610.07629). A style
is chosen per sample by an index or by a weight vector over the N styles; a
convex combination of rows mixes styles (their section 3.5). The output passes through a sigmoid so that
it is bounded to [0, 1] like every image in this library: an unbounded output
layer lets a long run drift into a state it never recovers from.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
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
    num_styles: int = 0  # 0: one style, plain instance norm; N: conditional instance norm with N styles

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


class ConditionalInstanceNorm2d(nn.Module):
    """Instance norm whose (gamma, beta) come from a table of one row per style.

    ``forward(x, mix)``: ``mix`` is ``(B, N)``, each row a weight vector over the
    styles (one-hot for one style); gamma and beta are the mixed rows.
    """

    def __init__(self, num_features: int, num_styles: int, eps: float = 1e-5):
        super().__init__()
        self.num_features, self.num_styles, self.eps = num_features, num_styles, eps
        self.weight = nn.Parameter(torch.ones(num_styles, num_features))
        self.bias = nn.Parameter(torch.zeros(num_styles, num_features))

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        m = mix.to(self.weight.dtype)[:, :, None]  # elementwise, so autocast keeps the tables' precision
        gamma, beta = (m * self.weight).sum(1), (m * self.bias).sum(1)  # (B, C)
        # Instance norm of B images = group norm of one "image" with B*C channels in B*C groups,
        # whose per-channel affine is then each sample's own gamma/beta: one fused kernel
        # (with a fast backward pass) instead of a norm plus separate multiply and add passes.
        b, c, h, w = x.shape
        y = F.group_norm(x.reshape(1, b * c, h, w), b * c, gamma.reshape(-1), beta.reshape(-1), self.eps)
        return y.reshape(b, c, h, w)


def norm_layer(channels: int, num_styles: int = 0) -> nn.Module:
    """The one place a norm layer is made: plain affine instance norm, or conditional for N styles."""
    if num_styles:
        return ConditionalInstanceNorm2d(channels, num_styles)
    return nn.InstanceNorm2d(channels, affine=True)


def replace_norms(net: nn.Module, make: Callable[[str, nn.InstanceNorm2d], nn.Module]) -> nn.Module:
    """A copy of ``net`` whose every ``nn.InstanceNorm2d`` is ``make(name, norm)`` instead: tiling's frozen
    statistics (``stylenet.infer.tiling``), video's moving averages (``stylenet.video.stabilize``)."""
    out = copy.deepcopy(net)
    for name, m in list(out.named_modules()):
        if isinstance(m, nn.InstanceNorm2d):
            parent_name, _, child = name.rpartition(".")
            parent = out.get_submodule(parent_name) if parent_name else out
            setattr(parent, child, make(name, m))
    return out


class Seq(nn.Sequential):
    """A ``Sequential`` that hands the style mix to the layers that use it."""

    def forward(self, x: torch.Tensor, mix: torch.Tensor | None = None) -> torch.Tensor:
        for m in self:
            x = m(x, mix) if mix is not None and isinstance(m, STYLED) else m(x)
        return x


class ConvLayer(nn.Sequential):
    """Reflection padding followed by a convolution ("c" and "d" layers)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride, groups=groups))


class ConvNormReLU(Seq):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, num_styles: int = 0):
        super().__init__(ConvLayer(cin, cout, kernel, stride), norm_layer(cout, num_styles), nn.ReLU())


class UpsampleConv(Seq):
    """Nearest-neighbour 2x upsampling, then a convolution ("u" layers)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, num_styles: int = 0):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvNormReLU(cin, cout, kernel, 1, num_styles))


def _conv3(c: int, depthwise: bool) -> nn.Module:
    if not depthwise:
        return ConvLayer(c, c, 3)
    return nn.Sequential(ConvLayer(c, c, 3, groups=c), nn.Conv2d(c, c, 1))


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with instance norm and an identity shortcut (He et al. 2016)."""

    def __init__(self, c: int, depthwise: bool = False, num_styles: int = 0):
        super().__init__()
        self.body = Seq(
            _conv3(c, depthwise),
            norm_layer(c, num_styles),
            nn.ReLU(),
            _conv3(c, depthwise),
            norm_layer(c, num_styles),
        )

    def forward(self, x: torch.Tensor, mix: torch.Tensor | None = None) -> torch.Tensor:
        return x + self.body(x, mix)


STYLED = (Seq, ResidualBlock, ConditionalInstanceNorm2d)  # layers whose forward takes the style mix


class TransformerNet(nn.Module):
    """Feed-forward style transfer network: images in [0, 1] in, images in [0, 1] out.

    Any height and width of at least ``MIN_SIDE`` gives an output of exactly the
    same size: inputs are reflection-padded to a multiple of 4 and the output is
    cropped back. With ``net.border = 24`` (off by default), eval mode first
    reflection-pads every side by that many pixels (at most the shorter side less 4)
    and crops back: a network trained on crops draws a thin line a few pixels inside
    each edge of its input, which then falls in the cropped margin; it also raised the
    held-out content loss at 256 px by up to 12% (docs/quality.md, "Border lines").
    Train mode never pads.
    """

    border: int = 0

    def __init__(
        self,
        width: int = NetConfig.width,
        blocks: int = NetConfig.blocks,
        depthwise: bool = NetConfig.depthwise,
        edge_kernel: int = NetConfig.edge_kernel,
        num_styles: int = NetConfig.num_styles,
    ):
        super().__init__()
        self.config = NetConfig(width, blocks, depthwise, edge_kernel, num_styles)
        self.card: dict = {}  # model card of loaded weights (see stylenet.io.weights)
        self.style_names: list[str] = []  # the styles of the table rows, in order (multi-style networks)
        w, n = width, num_styles
        self.encoder = Seq(
            ConvNormReLU(3, w, edge_kernel, 1, n),  # c9s1-32
            ConvNormReLU(w, 2 * w, 3, 2, n),  # d64
            ConvNormReLU(2 * w, 4 * w, 3, 2, n),  # d128
        )
        self.residuals = Seq(*[ResidualBlock(4 * w, depthwise, n) for _ in range(blocks)])
        self.decoder = Seq(
            UpsampleConv(4 * w, 2 * w, num_styles=n),  # u64
            UpsampleConv(2 * w, w, num_styles=n),  # u32
            ConvLayer(w, 3, edge_kernel),  # c9s1-3
        )

    @classmethod
    def from_config(cls, config: NetConfig | dict) -> TransformerNet:
        if isinstance(config, dict):
            config = NetConfig.from_dict(config)
        return cls(**config.to_dict())

    @property
    def num_styles(self) -> int:
        return self.config.num_styles

    def style_mix(self, style: int | torch.Tensor, batch: int) -> torch.Tensor:
        """``(batch, N)`` style weights from an index, a ``(B,)`` tensor of indices, or
        weights ``(N,)`` / ``(B, N)`` (a convex combination mixes styles)."""
        n = self.num_styles
        if isinstance(style, int):
            if not 0 <= style < n:
                raise ValueError(f"style index {style} out of range; this network holds {n} styles")
            style = torch.tensor([style])
        if not style.is_floating_point():
            return F.one_hot(style.long(), n).float().expand(batch, n)
        if style.shape[-1] != n:
            raise ValueError(f"style weights of shape {tuple(style.shape)}: this network holds {n} styles")
        return style.reshape(-1, n).expand(batch, n)

    def forward(self, x: torch.Tensor, style: int | torch.Tensor | None = None) -> torch.Tensor:
        """Stylize ``x`` ``(B, 3, H, W)`` in [0, 1]; a multi-style network also needs ``style``
        (an index, ``(B,)`` indices, or weights ``(N,)`` / ``(B, N)``; see ``style_mix``)."""
        mix = None
        if self.num_styles:
            if style is None:
                raise ValueError(f"this network holds {self.num_styles} styles; pass style= (an index or weights)")
            mix = self.style_mix(style, x.shape[0]).to(x.device)
        h, w = x.shape[-2:]
        # reflection padding: a border in eval mode (reflect padding needs a pad below the side,
        # sym_min keeps exported graphs dynamic), then up to a multiple of STRIDE
        b = 0 if self.training or not self.border else torch.sym_min(self.border, torch.sym_min(h, w) - STRIDE)
        pad_h, pad_w = (-(h + 2 * b)) % STRIDE, (-(w + 2 * b)) % STRIDE
        if b or pad_h or pad_w or torch.compiler.is_compiling():  # traced graphs must pad for any size
            x = F.pad(x, (b, b + pad_w, b, b + pad_h), mode="reflect")
        y = self.decoder(self.residuals(self.encoder(x, mix), mix), mix)
        return torch.sigmoid(y[..., b : b + h, b : b + w])

    def single(self, style: int | torch.Tensor) -> TransformerNet:
        """A one-style network (plain instance norm) equal to this one at a fixed style or mix.

        Inference paths (fast copies, tiling, ONNX of one style) take that network.
        """
        if not self.num_styles:
            return self
        mix = self.style_mix(style, 1)[0].to(next(self.parameters()).device)
        out = TransformerNet(**{**self.config.to_dict(), "num_styles": 0})
        state = {}
        for k, v in self.state_dict().items():
            state[k] = (mix[:, None] * v.float()).sum(0).to(v.dtype) if v.dim() == 2 and _is_table(self, k) else v
        out.load_state_dict(state)
        out.card, out.border = self.card, self.border
        return out.to(next(self.parameters()).device).train(self.training)


def _is_table(net: nn.Module, key: str) -> bool:
    return isinstance(net.get_submodule(key.rpartition(".")[0]), ConditionalInstanceNorm2d)
