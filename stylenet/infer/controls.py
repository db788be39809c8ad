"""Output controls that work for every network: colour preservation and strength.

* **Colour preservation** (luminance-only transfer, Gatys et al. 2016, "Preserving
  Color in Neural Artistic Style Transfer", https://arxiv.org/abs/1606.05897): the
  output keeps its own luminance (strokes, texture) and takes the photo's chroma,
  in YIQ space as in the paper.
* **Strength**: a convex combination of the photo and the stylized image; 0 gives
  the photo back, 1 the full style.

Both act on ``(..., 3, H, W)`` float tensors in [0, 1] and are plain tensor
operations, so they also run inside an exported ONNX graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# NTSC YIQ (the paper's colour space); rows: Y, I, Q
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ.double()).float()  # a constant (ONNX has no matrix inverse)


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    m = _RGB_TO_YIQ.to(x.device, x.dtype)
    return torch.einsum("ij,...jhw->...ihw", m, x)


def yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    m = _YIQ_TO_RGB.to(x.device, x.dtype)
    return torch.einsum("ij,...jhw->...ihw", m, x)


def preserve_color(stylized: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """The stylized luminance with the photo's chroma (I and Q), clipped to [0, 1]."""
    s, p = rgb_to_yiq(stylized), rgb_to_yiq(photo)
    return yiq_to_rgb(torch.cat([s[..., :1, :, :], p[..., 1:, :, :]], dim=-3)).clamp(0, 1)


def apply_controls(
    stylized: torch.Tensor, photo: torch.Tensor, strength: float | torch.Tensor = 1.0, color: float | torch.Tensor = 0.0
) -> torch.Tensor:
    """Colour preservation (``color``: 0 off, 1 on, between: a blend), then strength.

    Returns a new tensor; the inputs are not modified.
    """
    out = stylized
    if not isinstance(color, (int, float)) or color:
        out = out + color * (preserve_color(stylized, photo) - stylized)
    if not isinstance(strength, (int, float)) or strength != 1:
        out = photo + strength * (out - photo)
    return out


def check_strength(strength: float) -> float:
    from ..errors import StylenetError

    if not 0.0 <= float(strength) <= 1.0:
        raise StylenetError(f"strength={strength}: use a value from 0 (the photo) to 1 (full style)")
    return float(strength)


@dataclass(frozen=True)
class Controls:
    """The controls of one call, checked: ``controls(stylized, photo)`` applies them (``apply_controls``)."""

    strength: float = 1.0  # the pixel blend of photo and output
    color: float = 0.0  # colour preservation: 0 off, 1 on

    @classmethod
    def of(cls, strength: float, preserve_color: bool, feature_space: bool = False) -> Controls:
        """``stylize``'s and ``stylize_video``'s arguments; ``feature_space``: AdaIN, whose strength (its
        alpha, ``stylenet.infer.arbitrary.check_alpha``) acted before decoding, so only colour is left."""
        color = 1.0 if preserve_color else 0.0
        return cls(1.0, color) if feature_space else cls(check_strength(strength), color)

    def __call__(self, stylized: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
        return apply_controls(stylized, photo, self.strength, self.color)
