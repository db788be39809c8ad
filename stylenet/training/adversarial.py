"""An optional adversarial term: a patch discriminator between the style image and the outputs.

The transformer network is the generator. A PatchGAN discriminator (Isola et al.
2017, https://arxiv.org/abs/1611.07004: a few strided convolutions whose output is
one logit per overlapping patch) sees random crops of the style image as real and
crops of the network's outputs as fake, as P2-GAN (Zheng et al. 2020) does with one
style image. Spectral normalisation on every convolution (Miyato et al. 2018,
https://arxiv.org/abs/1802.05957) keeps it Lipschitz and the game stable; the loss
is the hinge loss (Lim & Ye 2017; as in SAGAN and BigGAN). The generator's term,
``-D(fake)``, is added to the perceptual loss with ``loss.adversarial.weight``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

DEFAULTS = {"lr": 2e-4, "crop": 64, "channels": 64, "layers": 3}  # loss.adversarial.* (the schema's)


class PatchDiscriminator(nn.Module):
    """``layers`` stride-2 4x4 convolutions (``channels`` doubling, at most 8x), LeakyReLU 0.2,
    then a 4x4 convolution to one logit per patch; spectral norm on each. Input in [0, 1]."""

    def __init__(self, channels: int = DEFAULTS["channels"], layers: int = DEFAULTS["layers"]):
        super().__init__()
        mods: list[nn.Module] = []
        c_in = 3
        for i in range(layers):
            c_out = channels * min(2**i, 8)
            mods += [spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            c_in = c_out
        mods.append(spectral_norm(nn.Conv2d(c_in, 1, 4, 1, 1)))
        self.body = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.float() * 2 - 1)


def random_crops(images: torch.Tensor, n: int, size: int) -> torch.Tensor:
    """``n`` random ``size`` x ``size`` crops of ``images`` ``(B, 3, H, W)`` (image i % B for crop i);
    images smaller than ``size`` are scaled up first."""
    b, _, h, w = images.shape
    if min(h, w) < size:
        s = size / min(h, w)
        images = F.interpolate(images, size=(max(size, round(h * s)), max(size, round(w * s))), mode="bilinear")
        h, w = images.shape[-2:]
    ys = torch.randint(0, h - size + 1, (n,)).tolist()
    xs = torch.randint(0, w - size + 1, (n,)).tolist()
    return torch.stack([images[i % b, :, y : y + size, x : x + size] for i, (y, x) in enumerate(zip(ys, xs))])


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss of the discriminator's logits on real and fake patches."""
    return F.relu(1 - real.float()).mean() + F.relu(1 + fake.float()).mean()


def generator_loss(fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss of the generator: raise the discriminator's logits on its outputs."""
    return -fake.float().mean()


def accuracy(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Share of patches the discriminator gets right (real > 0, fake < 0), real and fake equally weighted."""
    return ((real > 0).float().mean() + (fake < 0).float().mean()) / 2
