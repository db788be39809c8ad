"""``stylize(image, style)``: one forward pass on any image, returned as the same kind.

Accepts a path, a PIL image, a NumPy array or a tensor. The output keeps the
input's exact width and height (or the smaller size asked for with ``max_side``),
its EXIF orientation is applied, an alpha channel is carried through unchanged,
and grayscale, palette, CMYK and 16-bit inputs are converted on the way in.
Large images are tiled with shared normalisation statistics (``stylenet.infer.tiling``)
so that memory stays bounded and no seams show. ``strength`` and
``preserve_color`` (``stylenet.infer.controls``) work with every network; a mix of styles
(``{"mosaic": 0.7, "udnie": 0.3}``) needs a multi-style network.

``style_image=`` takes any painting instead (AdaIN, ``stylenet.infer.arbitrary``): one decoder
for every painting, no training per style.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from ..defaults import MIN_TILE, TILE, TILE_ABOVE
from ..errors import StylenetError
from ..io.images import (
    ImageError,
    array_to_float,
    check_float_tensor,
    check_size,
    float_to_array,
    open_image,
    split_alpha,
    to_pil,
)
from ..model.transformer import TransformerNet
from ..styles.load import one_style
from . import memory
from .controls import Controls
from .runner import Runner, shared_runner
from .tiling import stylize_tiled


def apply_net(net: TransformerNet, x: torch.Tensor, runner: Runner, tile: int | None = None) -> torch.Tensor:
    """``(B, 3, H, W)`` [0, 1] CPU tensor -> stylized, same shape. ``tile=None``: tile only images over
    ``TILE_ABOVE`` pixels (``stylenet.defaults``), in ``TILE`` tiles; each image of a batch on its own."""
    b, _, h, w = x.shape
    if tile is None and h * w <= TILE_ABOVE:
        return runner(net, x)
    with memory.bounded():  # tiles exist to bound memory: freed blocks go back to the OS meanwhile
        if b == 1:  # no copy: the output of a large image stays the one buffer the tiles were written to
            return stylize_tiled(net, x, runner, tile or TILE)
        return torch.cat([stylize_tiled(net, x[i : i + 1], runner, tile or TILE) for i in range(b)])


def _shrink(x: torch.Tensor, max_side: int | None) -> torch.Tensor:
    h, w = x.shape[-2:]
    if not max_side or max(h, w) <= max_side:
        return x
    s = max_side / max(h, w)
    size = (max(1, round(h * s)), max(1, round(w * s)))
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)


def _stylize_float(rgb: np.ndarray, alpha: np.ndarray | None, apply, max_side) -> tuple:
    """(H, W, 3) float RGB and optional alpha -> stylized RGB and (resized) alpha; ``apply(x) -> y``
    stylizes a ``(1, 3, H, W)`` tensor, controls included."""
    x = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)  # a channels-last view: no copy
    x = _shrink(x, max_side)
    check_size(x.shape[-1], x.shape[-2], f"image at max_side={max_side}")
    y = apply(x)[0].permute(1, 2, 0).numpy()
    if alpha is not None and alpha.shape != y.shape[:2]:
        a = _shrink(torch.from_numpy(alpha)[None, None], max_side)
        alpha = a[0, 0].numpy()
    return y, alpha


def tile_fix(tile) -> str | None:
    """What to use instead of ``tile`` as a tile side (None when it is one): the API's and the CLI's check."""
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < MIN_TILE:
        return f"use a tile side of at least {MIN_TILE} pixels"
    return None


def stylize(
    image,
    style=None,
    *,
    style_image=None,
    style_weights=None,
    max_side: int | None = None,
    device: str | torch.device | None = None,
    precision: str = "auto",
    tile: int | None = None,
    strength: float = 1.0,
    preserve_color: bool = False,
    network=None,
    style_size: int | str | None = "auto",
):
    """Stylize ``image`` with a trained ``style`` or any painting (``style_image``); returns the same kind of image.

    Args:
        image: a file path (returns a PIL image), a PIL image, a NumPy array
            ``(H, W)``/``(H, W, 3|4)`` of uint8, uint16 or float in [0, 1], or a float
            tensor ``(3, H, W)``/``(B, 3, H, W)`` in [0, 1].
        style: a style name, a weights file path, a loaded ``TransformerNet``, or a
            mix of a multi-style network's styles: ``{"mosaic": 0.7, "udnie": 0.3}`` or
            ``"mosaic:0.7,udnie:0.3"`` (weights normalised to sum 1).
        style_image: instead of ``style``, any painting (AdaIN, Huang & Belongie 2017, or a style
            predictor, Ghiasi et al. 2017: ``network``): a
            path, PIL image, NumPy array or tensor ``(3, H, W)``, or a list of them to mix.
            Checked and converted as photos are (grayscale, CMYK, 16-bit; transparency on white).
        style_weights: with a list of paintings, one weight each (normalised to sum 1;
            default equal): ``style_image=["a.jpg", "b.jpg"], style_weights=[0.7, 0.3]``.
            The mix is AdaIN with the weighted mean of the paintings' relu4_1 statistics (a
            predictor: the weighted mean of their embeddings).
        max_side: stylize at a smaller size: the longer side is scaled down to this
            (the output is that size too). Strokes look larger relative to the image.
        device: where to run; defaults to the network's device for a loaded network,
            else the CPU.
        precision: "auto" (bf16 where the hardware computes it natively, else fp32;
            ``stylenet.precision``), "fp32" or "bf16".
        tile: tile side for large images; ``None`` tiles only images over about 2.5 MP
            (1 MP with an AdaIN decoder). Tiles share the whole image's statistics.
        strength: 0 to 1 (full style). With ``style``: a pixel blend of the photo and the
            output (0 gives the photo back). With ``style_image``: AdaIN's alpha, an
            interpolation in feature space, ``alpha * AdaIN(f(photo)) + (1 - alpha) * f(photo)``,
            decoded (0 gives the decoder's reconstruction of the photo, not the photo). With a
            style predictor: Ghiasi's interpolation of the painting's embedding with the photo's
            own (0 gives the network's rendering of the photo in its own style: near the photo
            for the shipped predictor, trained for it, not the photo exactly).
        preserve_color: keep the photo's colours, take only the style's luminance
            (Gatys et al. 2016, luminance-only transfer).
        network: with ``style``, the multi-style network (name, file or object) that
            ``style``'s names or mix select from (default: the registry's best for each
            name). With ``style_image``, the AdaIN decoder or style predictor: a weights file, a
            loaded ``AdaINNet`` (``stylenet.load_adain(path, vgg=...)``) or ``StylePredictor``
            (``stylenet.load_predictor``), or a registry name (default: ``"adain"``, else
            ``"predictor"``, whichever is installed; the package ships a ``"predictor"``).
        style_size: with ``style_image``, the painting's shorter side is scaled to this
            before its statistics are taken (``None``: as it is; ``"auto"``: the network's
            own, 512 for AdaIN, a predictor's training scale). Statistics are cached
            by the painting's pixels, so a batch pays for them once.
    """
    if tile is not None and (fix := tile_fix(tile)):
        raise StylenetError(f"tile={tile!r}: {fix}, or None (tile large images)")
    if style_image is not None:
        if style is not None:
            raise StylenetError(
                "give style (a trained style) or style_image (any painting), not both (CLI: --style or --style-image)"
            )
        from . import arbitrary

        adain_alpha = arbitrary.check_alpha(strength)  # not ``alpha``: that name is the image's alpha channel
        controls = Controls.of(strength, preserve_color, feature_space=True)
        base = arbitrary.load_decoder(network)
        net = arbitrary.prepare(base, device, precision)
        target = arbitrary.target_stats(net, style_image, style_weights, style_size)
        if arbitrary.is_predictor(net):  # a style predictor: its network, through the path below (infer/predictor.py)
            from .predictor import photo_function

            run = photo_function(net, target[0], adain_alpha, tile, device, precision)
        else:

            def run(x: torch.Tensor) -> torch.Tensor:
                return arbitrary.stylize_photo(net, x, target, adain_alpha, tile)

    else:
        if style is None:
            raise StylenetError("give a style (a trained style's name or file) or style_image (any painting)")
        if style_weights is not None:
            raise StylenetError("style_weights goes with style_image (paintings); mix trained styles in style=")
        controls = Controls.of(strength, preserve_color)  # checked before the network is loaded
        net, device = one_style(style, network, device)
        runner = shared_runner(device, precision)

        def run(x: torch.Tensor) -> torch.Tensor:
            return apply_net(net, x, runner, tile)

    def apply(x: torch.Tensor) -> torch.Tensor:
        return controls(run(x), x)

    if isinstance(image, torch.Tensor):
        if image.dim() not in (3, 4) or image.shape[-3] != 3:
            raise ImageError(f"tensor of shape {tuple(image.shape)}: expected (3, H, W) or (B, 3, H, W)")
        check_float_tensor(image)
        x = image.detach().float().cpu().clamp(0, 1)
        x = _shrink(x if x.dim() == 4 else x.unsqueeze(0), max_side)
        check_size(x.shape[-1], x.shape[-2], f"tensor of shape {tuple(image.shape)}")
        y = apply(x)
        return (y if image.dim() == 4 else y[0]).to(image.device, image.dtype)

    if isinstance(image, np.ndarray):
        rgb, alpha = array_to_float(image)
        y, alpha = _stylize_float(rgb, alpha, apply, max_side)
        return float_to_array(y, alpha, image.dtype)

    if isinstance(image, (str, os.PathLike)):
        img = open_image(image)
    elif isinstance(image, Image.Image):
        img = ImageOps.exif_transpose(image)
        check_size(img.width, img.height, "PIL image")
    else:
        raise TypeError(f"cannot stylize a {type(image).__name__}; pass a path, PIL image, NumPy array or tensor")
    rgb, alpha = split_alpha(img)
    y, alpha = _stylize_float(rgb, alpha, apply, max_side)
    return to_pil(y, alpha)
