"""Any painting as the style: the user-facing side of AdaIN (``stylenet.model.adain``) and of the style
predictor (``stylenet.model.predictor``; its own photo and clip paths: ``stylenet.infer.predictor``).

What ``stylize(photo, style_image=...)``, ``stylize_video(..., style_image=...)``, the
``--style-image`` options and ``stylenet export DECODER.safetensors`` share:

* **the decoder** (``load_decoder``): a decoder or predictor weights file, a loaded ``AdaINNet``
  or ``StylePredictor``, or a registry name (default: ``adain``, else ``predictor``, whichever is
  installed; the package ships a ``predictor``, and a missing default is a one-line error);
* **the paintings** (``read_painting``): a path, PIL image, NumPy array or tensor, checked
  as photos are (``stylenet.io.images``: missing, broken, tiny, decompression bomb);
  grayscale, palette, CMYK and 16-bit are converted, transparency is composited on white;
  the shorter side is scaled to ``style_size`` (512, as in Huang & Belongie's code);
* **their statistics** (``painting_stats``): relu4_1 channel means and deviations,
  cached by the painting's pixels, so a batch or a clip computes them once;
* **large photos** (``stylize_photo``): above ``TILE_ABOVE`` pixels, overlapping tiles
  whose AdaIN uses the *whole* photo's relu4_1 statistics (from a pass over the photo
  downscaled to ``stats_side``, exact when it is that small), so tiles agree and no
  seams show; below it, the photo runs whole;
* **clips** (``PaintingClipStylizer``): the painting's statistics once per clip; each
  frame's own relu4_1 statistics are averaged over the frames as an exponential moving
  average (``stability``, the momentum, as ``stylenet.video.stabilize`` does for instance
  norms; restarted at a cut), and ``denoise``/``blend`` as for the other networks.

``strength`` is AdaIN's alpha: ``t = alpha * AdaIN(f(photo), painting) + (1 - alpha) * f(photo)``,
an interpolation in feature space (0 gives the decoder's reconstruction of the photo,
not the photo itself), unlike the other networks' pixel blend of photo and output.
"""

from __future__ import annotations

import copy
import hashlib
import os
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from .. import precision as policy
from ..defaults import ADAIN_TILE as TILE
from ..defaults import ADAIN_TILE_ABOVE as TILE_ABOVE
from ..defaults import PAINTING_SIZE as STYLE_SIZE
from ..defaults import STATS_SIDE, VGG_ENV
from ..errors import StylenetError
from ..io.images import ImageError, array_to_float, check_float_tensor, check_size, open_image, split_alpha
from ..io.weights import ARBITRARY, file_format
from ..model.adain import STRIDE, AdaINNet, Stats, channel_stats, load_adain, mix_stats
from . import memory

DEFAULT = "adain"  # the registry name of the default decoder (not shipped yet)
DEFAULTS = (DEFAULT, "predictor")  # what style_image uses without network=: the first installed
# receptive-field radius of encoder + decoder, in pixels, with the 8-pixel grid's misalignment:
# encoder (VGG16 to relu4_1) 30, decoder 26, nearest upsampling and pooling alignment up to 14
RADIUS = 72

MISSING_DEFAULT = (
    "no AdaIN decoder or style predictor is installed (stylenet ships one, 'predictor': is the package "
    "complete?); pass network=path/to/network.safetensors (CLI: --network), or train one with "
    "`python scripts/train.py experiment=predictor paths=shared` and `stylenet install` it"
)


# -- the decoder -------------------------------------------------------------------------------
def is_adain_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an AdaIN decoder or style-predictor weights file (its header's format)."""
    return file_format(path) in ARBITRARY


def arbitrary_card(path: str | os.PathLike) -> dict | None:
    """The card of a verified AdaIN or predictor weights file (None: another kind of file)."""
    return load_decoder(Path(path), vgg="random").card if is_adain_file(path) else None


_loaded: OrderedDict = OrderedDict()  # (path, mtime, size, vgg) -> AdaINNet: a batch of calls loads a file once


def installed_default(installed: list[str] | None = None) -> str | None:
    """The registry name ``style_image`` uses without ``network=``: the first of DEFAULTS installed."""
    if installed is None:
        from ..styles.registry import available_styles

        installed = available_styles()
    return next((name for name in DEFAULTS if name in installed), None)


def load_decoder(network=None, vgg: str | None = None):
    """An ``AdaINNet`` or ``StylePredictor`` from ``network``: a loaded one (returned as it is), a weights
    file, or a registry name (``None``: the first of ``DEFAULTS`` installed). ``vgg`` (default
    ``$STYLENET_VGG``) replaces the VGG weights source the file names."""
    from ..model.predictor import FORMAT as PREDICTOR
    from ..model.predictor import StylePredictor, load_predictor

    if isinstance(network, (AdaINNet, StylePredictor)):
        return network
    if network is not None and not isinstance(network, (str, os.PathLike)):
        raise StylenetError(
            f"network={type(network).__name__}: with style_image, network is an AdaIN decoder or a style "
            "predictor (a file, AdaINNet or StylePredictor)"
        )
    vgg = vgg or os.environ.get(VGG_ENV)  # a local VGG16 for every call (offline), over the header's source
    text = os.fspath(network) if network is not None else DEFAULT
    is_path = isinstance(network, os.PathLike) or os.sep in text or text.endswith(".safetensors")
    if not is_path and not Path(text).is_file():
        from ..styles.fetch import verified_path
        from ..styles.registry import available_styles

        installed = available_styles()
        if network is None:
            text = installed_default(installed) or DEFAULT
        if text not in installed:
            if network is None or text in DEFAULTS:
                raise StylenetError(MISSING_DEFAULT)
            known = ", ".join(sorted(n for n, s in installed.items() if s.takes_painting)) or "none"
            raise StylenetError(
                f"unknown painting network {text!r} (an AdaIN decoder or style predictor; installed: {known}); "
                "pass its file (network=path/to/predictor.safetensors, --network)"
            )
        if not installed[text].takes_painting:
            raise StylenetError(
                f"{text!r} is a trained style, not a network that takes a painting: use style={text!r} "
                f"(--style {text}) without style_image, or a painting with the default network"
            )
        path = verified_path(installed[text])  # the entry already found: no second scan
    else:
        path = Path(text)
        if not path.is_file():
            raise StylenetError(f"{path}: no such AdaIN decoder file")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, vgg)
    if key not in _loaded:
        _loaded[key] = (load_predictor if file_format(path) == PREDICTOR else load_adain)(path, vgg=vgg)
        while len(_loaded) > 2:
            _loaded.popitem(last=False)
    _loaded.move_to_end(key)
    return _loaded[key]


_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def is_predictor(net) -> bool:
    """Whether a loaded painting network is a style predictor (else an AdaIN network)."""
    from ..model.predictor import StylePredictor

    return isinstance(net, StylePredictor)


def device_for(net, device: torch.device | str | None) -> torch.device:
    """``device``, or where ``net``'s parameters are when it is None."""
    return torch.device(device) if device is not None else next(net.parameters()).device


def prepare(net: AdaINNet, device: torch.device | str | None, precision: str) -> AdaINNet:
    """``net`` on ``device`` in the precision ``stylenet.precision`` resolves (fp32 or bf16), in eval mode;
    a copy where that differs from ``net`` (made once, again after its parameters change). A style
    predictor stays in fp32: the network it makes runs in that precision (``stylenet.model.predictor``)."""
    device = device_for(net, device)
    dtype = torch.bfloat16 if policy.resolve(precision, device) == "bf16" else torch.float32
    if is_predictor(net):
        dtype = torch.float32
    p = next(net.parameters())
    if p.device == device and p.dtype == dtype and not net.training:
        return net
    versions = (device, dtype, tuple(q._version for q in net.parameters()))
    cached = _prepared.get(net)
    if cached is None or cached[0] != versions:
        copied = copy.deepcopy(net).to(device, dtype).eval()
        copied.card = net.card
        cached = (versions, copied)
        _prepared[net] = cached
    return cached[1]


# -- paintings ---------------------------------------------------------------------------------
def _painting_rgb(painting) -> np.ndarray:
    """Any painting -> ``(H, W, 3)`` float32 RGB in [0, 1]; transparency composited on white."""
    try:
        if isinstance(painting, torch.Tensor):
            t = painting.detach().float().cpu()
            if t.dim() == 4 and t.shape[0] == 1:
                t = t[0]
            if t.dim() != 3 or t.shape[0] not in (1, 3):
                raise ImageError(f"tensor of shape {tuple(painting.shape)}: expected (3, H, W) or (1, 3, H, W)")
            check_float_tensor(painting)
            check_size(t.shape[-1], t.shape[-2], f"tensor of shape {tuple(painting.shape)}")
            return t.expand(3, -1, -1).clamp(0, 1).permute(1, 2, 0).numpy()
        if isinstance(painting, np.ndarray):
            rgb, alpha = array_to_float(painting)
        elif isinstance(painting, (str, os.PathLike)):
            rgb, alpha = split_alpha(open_image(painting))
        elif isinstance(painting, Image.Image):
            img = ImageOps.exif_transpose(painting)
            check_size(img.width, img.height, "PIL image")
            rgb, alpha = split_alpha(img)
        else:
            raise StylenetError(
                f"cannot use a {type(painting).__name__} as a painting; pass a path, PIL image, NumPy array or tensor"
            )
    except ImageError as e:
        raise ImageError(f"style image {e}") from None
    if alpha is not None:  # transparent parts: white paper
        rgb = rgb * alpha[..., None] + (1.0 - alpha[..., None])
    return rgb


MAX_STYLE_SIZE = 4096  # style_size: the painting's shorter side, at most
LONG_SIDE = 4  # ... and its longer side at most this times style_size (a 4000x16 strip is not made 64000x256)


def style_size_fix(style_size) -> str | None:
    """What to use instead of ``style_size`` (None when it is ``"auto"``, ``None`` or a side from ``STRIDE``
    to ``MAX_STYLE_SIZE``): the one range check of the API and the CLI."""
    if style_size is None or style_size == "auto":
        return None
    if isinstance(style_size, bool) or not isinstance(style_size, (int, np.integer)):
        return "use 'auto' or a side in pixels"
    if not STRIDE <= style_size <= MAX_STYLE_SIZE:
        return f"use a side from {STRIDE} to {MAX_STYLE_SIZE} pixels, or 'auto'"
    return None


def check_style_size(style_size) -> None:
    """``StylenetError`` unless ``style_size`` is ``"auto"``, ``None`` or a side from ``STRIDE`` to ``MAX_STYLE_SIZE``."""
    if fix := style_size_fix(style_size):
        raise StylenetError(f"style_size={style_size!r}: {fix}")


def read_painting(painting, style_size: int | None = STYLE_SIZE) -> torch.Tensor:
    """A painting as ``(1, 3, H, W)`` float32 in [0, 1], its shorter side scaled to ``style_size`` (up or down;
    ``None``: as it is), its longer side at most ``LONG_SIDE`` x ``style_size`` (a long strip is scaled by
    its longer side instead, so that its statistics cost what a painting's do)."""
    check_style_size(style_size)
    x = torch.from_numpy(np.ascontiguousarray(_painting_rgb(painting))).permute(2, 0, 1).unsqueeze(0).float()
    h, w = x.shape[-2:]
    if style_size and (min(h, w) != style_size or max(h, w) > LONG_SIDE * style_size):
        s = min(style_size / min(h, w), LONG_SIDE * style_size / max(h, w))
        size = (max(STRIDE, round(h * s)), max(STRIDE, round(w * s)))
        x = F.interpolate(x, size=size, mode="bilinear", antialias=s < 1, align_corners=False).clamp_(0, 1)
    return x.contiguous()


_stats_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # net -> {pixels digest: stats}
CACHE_SIZE = 32


def painting_stats(net: AdaINNet, painting: torch.Tensor) -> Stats:
    """The relu4_1 statistics of a ``read_painting`` tensor, computed once per network and pixels."""
    digest = hashlib.sha256(np.ascontiguousarray(painting.numpy()).tobytes()).hexdigest() + str(painting.shape)
    cache = _stats_cache.setdefault(net, OrderedDict())
    if digest not in cache:
        device = next(net.parameters()).device
        cache[digest] = tuple(s.float() for s in net.style_stats(painting.to(device)))
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    cache.move_to_end(digest)
    return cache[digest]


def paintings_list(style_image, style_weights) -> tuple[list, list[float]]:
    """``style_image`` (one painting or a list) and ``style_weights`` -> paintings and weights summing to 1."""
    paintings = list(style_image) if isinstance(style_image, (list, tuple)) else [style_image]
    if not paintings:
        raise StylenetError("style_image is an empty list; give at least one painting")
    if style_weights is None:
        weights = [1.0] * len(paintings)
    else:
        many = isinstance(style_weights, (Sequence, np.ndarray, torch.Tensor)) and np.ndim(style_weights) > 0
        try:
            weights = [float(w) for w in (style_weights if many else [style_weights])]
        except (TypeError, ValueError):
            raise StylenetError(f"style_weights={style_weights!r}: give numbers, one per painting") from None
    if len(weights) != len(paintings):
        raise StylenetError(f"{len(weights)} style_weights for {len(paintings)} paintings; give one weight each")
    if any(not np.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise StylenetError(
            f"style weights {weights}: each must be a finite number >= 0, and one at least positive "
            "(style_weights=; CLI: --style-image PAINTING:WEIGHT)"
        )
    total = sum(weights)
    return paintings, [w / total for w in weights]


def target_stats(net: AdaINNet, style_image, style_weights=None, style_size: int | str | None = "auto") -> Stats:
    """The style's statistics ``(1, 512, 1, 1)`` each: one painting's, or the weighted mix of several; a
    style predictor's: the embedding ``(1, D)`` (a one-tuple), a mix's the weighted mean of the paintings'.
    ``style_size="auto"``: the network's own (``STYLE_SIZE`` for AdaIN, a predictor's training scale)."""
    paintings, weights = paintings_list(style_image, style_weights)
    if style_size == "auto":
        style_size = getattr(net, "style_size", STYLE_SIZE)
    stats = [painting_stats(net, read_painting(p, style_size)) for p in paintings]
    if len(stats) == 1:
        return stats[0]
    if len(stats[0]) == 1:  # embeddings
        return (sum(w * s[0] for s, w in zip(stats, weights)),)
    return mix_stats((torch.cat([s[0] for s in stats]), torch.cat([s[1] for s in stats])), weights)


# -- photos ------------------------------------------------------------------------------------
def _padded(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % STRIDE, -w % STRIDE
    return F.pad(x, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else x


def restyle(feat: torch.Tensor, content: Stats, style: Stats, alpha: float) -> torch.Tensor:
    """AdaIN with given content statistics (the whole image's, for a tile), then alpha."""
    t = (feat.float() - content[0]) / content[1] * style[1] + style[0]
    if alpha < 1.0:
        t = alpha * t + (1 - alpha) * feat.float()
    return t.to(feat.dtype)


def content_stats(net: AdaINNet, x: torch.Tensor, stats_side: int = STATS_SIDE) -> Stats:
    """The relu4_1 statistics of a photo ``(1, 3, H, W)``, on a pass downscaled so that its longer side is
    at most ``stats_side`` (exactly the untiled network's for photos that small)."""
    scale = min(1.0, stats_side / max(x.shape[-2:]))
    small = x if scale == 1.0 else F.interpolate(x, scale_factor=scale, mode="area")
    return channel_stats(net.encode(_padded(small)))


@torch.no_grad()
def stylize_tiled(
    net: AdaINNet,
    x: torch.Tensor,
    style: Stats,
    alpha: float = 1.0,
    tile: int = TILE,
    overlap: int | None = None,
    stats_side: int = STATS_SIDE,
) -> torch.Tensor:
    """A ``(1, 3, H, W)`` photo in overlapping tiles whose AdaIN uses the whole photo's statistics.

    A tile's output equals the whole photo's except within ``RADIUS`` of its cut edges; tiles
    overlap by more than that, and are blended with linear ramps ``RAMP`` wide where both are exact.
    """
    from .tiling import RAMP, ramp, spans

    need = RADIUS + RAMP // 2 + 1
    overlap = need if overlap is None else overlap
    if overlap < need:
        raise ValueError(f"overlap={overlap} is too small for the AdaIN network; use at least {need}")
    device = next(net.parameters()).device
    _, _, h, w = x.shape
    cstats = content_stats(net, x.to(device), stats_side)
    out = torch.zeros(1, 3, h, w)
    weight = torch.zeros(1, 1, h, w)
    for y0, y1, ky0, ky1 in spans(h, tile, overlap, STRIDE):
        wy = ramp(y1 - y0, ky0 - y0, ky1 - y0, RAMP, ky0 > 0, ky1 < h)
        for x0, x1, kx0, kx1 in spans(w, tile, overlap, STRIDE):
            wx = ramp(x1 - x0, kx0 - x0, kx1 - x0, RAMP, kx0 > 0, kx1 < w)
            part = x[:, :, y0:y1, x0:x1].to(device)
            th, tw = part.shape[-2:]
            feat = net.encode(_padded(part))
            y = net.decoder(restyle(feat, cstats, style, alpha))[..., :th, :tw].float().cpu()
            mix = wy[:, None] * wx[None, :]
            out[:, :, y0:y1, x0:x1] += y * mix
            weight[:, :, y0:y1, x0:x1] += mix
    return out.div_(weight)


@torch.no_grad()
def stylize_photo(
    net: AdaINNet, x: torch.Tensor, style: Stats, alpha: float = 1.0, tile: int | None = None
) -> torch.Tensor:
    """``(B, 3, H, W)`` CPU float photos -> stylized, same shape, float32 CPU. ``tile=None``: tile only photos
    over ``TILE_ABOVE`` pixels; each photo of a batch has its own statistics."""
    b, _, h, w = x.shape
    if tile is None and h * w <= TILE_ABOVE:
        device = next(net.parameters()).device
        dtype = next(net.parameters()).dtype
        return net(x.to(device, dtype), style, alpha=alpha).float().cpu()
    with memory.bounded():  # tiles exist to bound memory: freed blocks go back to the OS meanwhile
        return torch.cat([stylize_tiled(net, x[i : i + 1], style, alpha, tile or TILE) for i in range(b)])


def check_alpha(strength: float) -> float:
    if not 0.0 <= float(strength) <= 1.0:
        raise StylenetError(
            f"strength={strength}: use a value from 0 (the decoder's reconstruction of the photo; a predictor: "
            "the photo's own style) to 1 (full style)"
        )
    return float(strength)


# -- clips -------------------------------------------------------------------------------------
class PaintingClipStylizer:
    """AdaIN applied to a clip's frames in order, with the painting's statistics computed once.

    ``stability`` (the momentum): each frame's relu4_1 mean and variance are averaged over the
    frames so far, ``m_t = s m_{t-1} + (1 - s) m(frame_t)`` (0: per-frame statistics), restarted at
    a cut; ``denoise`` and ``blend`` as in ``stylenet.video.stabilize.FlowSmoothing``.
    """

    def __init__(
        self,
        net: AdaINNet,
        style: Stats,
        alpha: float = 1.0,
        stability: float = 0.0,
        denoise: float = 0.0,
        blend: float = 0.0,
    ):
        from ..video.stabilize import FlowSmoothing

        self.net, self.style, self.alpha, self.stability = net, style, alpha, stability
        self.smoothing = FlowSmoothing(denoise, blend) if stability or denoise or blend else None
        self.mean = self.var = None

    @torch.no_grad()
    def _run(self, x: torch.Tensor) -> torch.Tensor:
        p = next(self.net.parameters())
        h, w = x.shape[-2:]
        feat = self.net.encode(_padded(x.to(p.device, p.dtype)))
        mean, std = channel_stats(feat)
        var = std.square()
        if self.mean is None or not self.stability:
            self.mean, self.var = mean, var
        else:
            self.mean = torch.lerp(mean, self.mean, self.stability)
            self.var = torch.lerp(var, self.var, self.stability)
        t = restyle(feat, (self.mean, self.var.sqrt()), self.style, self.alpha)
        return self.net.decoder(t)[..., :h, :w].float().cpu()

    def __call__(self, frame: np.ndarray) -> torch.Tensor:
        """The next frame ``(H, W, 3)`` uint8 -> its stylization ``(1, 3, H, W)`` float in [0, 1] (CPU)."""
        from ..video.io import frame_tensor

        if self.smoothing is None:
            return self._run(frame_tensor(frame))
        x = self.smoothing.input(frame)
        if self.smoothing.cut:
            self.mean = self.var = None
        return self.smoothing.output(self._run(x))
