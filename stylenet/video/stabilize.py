"""Temporal stability of stylized video, and its measurement.

A network applied to each frame on its own flickers: small changes of the picture
(motion, grain, compression) change the strokes. At inference:

* ``ema_norms`` (``stability``): each instance-norm layer normalises a frame with an
  exponential moving average of the per-channel mean and variance of the frames so far
  (the momentum; 0 gives per-frame statistics, the plain network), as
  ``stylenet.infer.tiling`` shares one image's statistics across its tiles: whole-frame shifts
  of colour and contrast stop when something enters, leaves or blinks.
* ``FlowSmoothing`` (``denoise``, ``blend``): running averages along the input's optical
  flow of the input frames (grain and compression noise average away before the network
  can amplify them) and of the outputs (what still flickers averages away).

**Measurement** (``WarpingError``, Lai et al. 2018 after Ruder et al. 2016): the mean
squared difference between output frame t and output frame t+1 warped back to t by
the optical flow of the *input* frames, over the pixels the flow can follow (not
occluded). Flow: OpenCV's DIS optical flow (medium preset) on grayscale input frames;
occlusions: forward-backward consistency, ``|w + w_back(x + w)|^2 > 0.01 (|w|^2 +
|w_back(x + w)|^2) + 0.5``. Pixels in [0, 1]. Flow needs OpenCV (the [video] extra).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import StylenetError
from ..model.fast import Runner

VIDEO_EXTRA = "video needs the [video] extra: pip install 'stylenet[video]'"
CUT_BELOW = 0.25  # a frame whose flow is consistent on less than this fraction of pixels starts a new shot


class EmaInstanceNorm(nn.Module):
    """Instance norm of one frame at a time with statistics averaged over the frames so far.

    ``mean_t = m mean_{t-1} + (1 - m) mean(frame_t)`` (the same for the variance), kept in
    float32 whatever the activations' precision; the first frame uses its own statistics.
    ``reset()`` starts a new clip.
    """

    keep_float32 = True  # fast copies keep gamma and beta in float32, as the statistics are

    def __init__(self, norm: nn.InstanceNorm2d, momentum: float):
        super().__init__()
        self.weight, self.bias, self.eps = norm.weight, norm.bias, norm.eps
        self.momentum = momentum
        self.mean: torch.Tensor | None = None
        self.var: torch.Tensor | None = None

    def reset(self) -> None:
        self.mean = self.var = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != 1:
            raise ValueError(f"EmaInstanceNorm takes one frame at a time, not a batch of {x.shape[0]}")
        # this frame's statistics, accumulated in float32 (float32 buffers make them float32)
        buffers = torch.zeros(2, x.shape[1], device=x.device)
        mean, var = torch.batch_norm_update_stats(x, buffers[0], buffers[1], 0.0)
        if self.mean is None or self.momentum == 0:
            self.mean, self.var = mean, var
        else:
            self.mean = torch.lerp(mean, self.mean, self.momentum)
            self.var = torch.lerp(var, self.var, self.momentum)
        # a batch norm with the averaged statistics as its running ones: one fused kernel, layout kept
        w = None if self.weight is None else self.weight.float()
        b = None if self.bias is None else self.bias.float()
        return F.batch_norm(x, self.mean, self.var, w, b, False, 0.0, self.eps)


def ema_norms(net: nn.Module, momentum: float) -> nn.Module:
    """A copy of one-style ``net`` whose instance norms carry statistics across frames (``EmaInstanceNorm``).

    Apply it to a clip's frames in order, one at a time (a ``Runner`` keeps the state in
    its fast copy); ``reset_norms`` starts over.
    """
    check_stability(momentum)
    out = copy.deepcopy(net)
    for name, m in list(out.named_modules()):
        if isinstance(m, nn.InstanceNorm2d):
            parent_name, _, child = name.rpartition(".")
            parent = out.get_submodule(parent_name) if parent_name else out
            setattr(parent, child, EmaInstanceNorm(m, momentum))
    return out


def reset_norms(net: nn.Module) -> None:
    """Forget the statistics of previous frames (every ``EmaInstanceNorm`` of ``net``)."""
    for m in net.modules():
        if isinstance(m, EmaInstanceNorm):
            m.reset()


def check_stability(momentum: float) -> float:
    if not 0.0 <= float(momentum) < 1.0:
        raise StylenetError(f"stability={momentum}: use a momentum from 0 (per-frame statistics) to below 1")
    return float(momentum)


def frame_tensor(rgb: np.ndarray) -> torch.Tensor:
    """A ``(H, W, 3)`` uint8 frame (read-only too) -> ``(1, 3, H, W)`` float in [0, 1] (a new tensor)."""
    return torch.tensor(rgb, dtype=torch.float32).permute(2, 0, 1).unsqueeze(0).div_(255)


def tensor_frame(y: torch.Tensor) -> np.ndarray:
    """A ``(1, 3, H, W)`` tensor in [0, 1] -> ``(H, W, 3)`` uint8 frame, rounded."""
    return y[0].permute(1, 2, 0).mul(255).round().to(torch.uint8).numpy()


# -- optical flow ----------------------------------------------------------------------------
def _cv2():
    try:
        import cv2
    except ImportError:
        raise StylenetError(VIDEO_EXTRA) from None
    return cv2


FLOWS = ("dis", "farneback")


class FlowEstimator:
    """Optical flow between consecutive grayscale frames: OpenCV's DIS (medium preset), or
    Farneback's (``method="farneback"``), a different algorithm for checking a measurement
    independently of the flow that ``FlowSmoothing`` follows."""

    def __init__(self, method: str = "dis") -> None:
        cv2 = _cv2()
        if method not in FLOWS:
            raise StylenetError(f"unknown optical flow {method!r}; use one of {', '.join(FLOWS)}")
        self.method = method
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) if method == "dis" else None

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(H, W)`` uint8 frames -> ``(H, W, 2)`` float32 flow from ``a`` to ``b`` (x, y in pixels)."""
        if self.dis is not None:
            return self.dis.calc(a, b, None)
        return _cv2().calcOpticalFlowFarneback(a, b, None, 0.5, 4, 15, 3, 5, 1.2, 0)


def gray(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(H, W)`` uint8 luma."""
    return _cv2().cvtColor(np.ascontiguousarray(rgb), _cv2().COLOR_RGB2GRAY)


def warp(image: np.ndarray, flow: np.ndarray, cubic: bool = False) -> np.ndarray:
    """Sample ``image`` at ``x + flow(x)`` (bilinear or bicubic, edges replicated): frame t+1 brought back to t."""
    cv2 = _cv2()
    h, w = flow.shape[:2]
    grid = np.mgrid[0:h, 0:w][::-1].transpose(1, 2, 0).astype(np.float32)  # (x, y) per pixel
    m = grid + flow
    mode = cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR
    return cv2.remap(image, m[..., 0], m[..., 1], mode, borderMode=cv2.BORDER_REPLICATE)


def occlusion_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool, True where the flow is consistent forward and backward (Ruder et al. 2016)."""
    back = warp(backward, forward)  # w_back(x + w(x))
    lhs = ((forward + back) ** 2).sum(-1)
    rhs = 0.01 * ((forward**2).sum(-1) + (back**2).sum(-1)) + 0.5
    return lhs <= rhs


# -- flow smoothing ---------------------------------------------------------------------------
def check_weight(weight: float, name: str) -> float:
    if not 0.0 <= float(weight) < 1.0:
        raise StylenetError(f"{name}={weight}: use a weight from 0 (off) to below 1")
    return float(weight)


class FlowSmoothing:
    """Running averages of a clip's frames along the optical flow of its input frames.

    ``denoise``: each input frame is averaged with the previous (averaged) input warped
    to it, before stylizing: sensor noise and compression artefacts, which the network
    would turn into flickering strokes, average away; the style does not weaken.
    ``blend``: each output is averaged with the previous output warped to it: the
    network's own flicker averages away, at some loss of texture (style loss rises).
    Both are ``x_t <- (1 - w) x_t + w warp(x_{t-1})`` where the flow is consistent
    forward and backward, ``x_t`` as it is elsewhere (occlusions) and on the first frame of
    a new shot (``cut``: the flow follows under ``CUT_BELOW`` of the pixels); bicubic warps.
    Call ``input(frame)`` then ``output(y)`` for each frame in order.
    """

    def __init__(self, denoise: float = 0.0, blend: float = 0.0):
        self.denoise, self.blend = check_weight(denoise, "denoise"), check_weight(blend, "blend")
        self.flow = FlowEstimator()
        self.gray: np.ndarray | None = None  # the previous input frame, gray
        self.prev_in: np.ndarray | None = None  # the previous (averaged) input, (H, W, 3) float
        self.prev_out: np.ndarray | None = None
        self.back: np.ndarray | None = None  # flow from this frame to the previous one
        self.valid: np.ndarray | None = None
        self.cut = False  # this frame starts a new shot: the flow follows almost nothing

    def _average(self, x: np.ndarray, prev: np.ndarray | None, weight: float) -> np.ndarray:
        if prev is None or self.back is None or not weight or self.cut:
            return x
        warped = warp(prev, self.back, cubic=True)
        return np.where(self.valid, x + weight * (warped - x), x).astype(np.float32)

    def input(self, frame: np.ndarray) -> torch.Tensor:
        """The input ``(H, W, 3)`` uint8 -> the frame to stylize, ``(1, 3, H, W)`` in [0, 1]."""
        g = gray(frame)
        if self.gray is not None:
            self.back = self.flow(g, self.gray)
            self.valid = occlusion_mask(self.back, self.flow(self.gray, g))[..., None]
            self.cut = self.valid.mean() < CUT_BELOW
        self.gray = g
        x = self._average(frame.astype(np.float32) / 255, self.prev_in, self.denoise).clip(0, 1)
        self.prev_in = x
        return torch.from_numpy(x.copy()).permute(2, 0, 1).unsqueeze(0)

    def output(self, y: torch.Tensor) -> torch.Tensor:
        """The stylized frame ``(1, 3, H, W)`` -> averaged with the previous output along the flow."""
        out = self._average(y[0].permute(1, 2, 0).numpy(), self.prev_out, self.blend)
        self.prev_out = out
        return torch.from_numpy(out.copy()).permute(2, 0, 1).unsqueeze(0)  # the caller may write to it


class ClipStylizer:
    """A one-style network applied to a clip's frames in order, with the stability settings.

    ``stability`` (``ema_norms``), ``denoise`` and ``blend`` (``FlowSmoothing``). With any
    of them on, the optical flow also finds cuts: a new shot restarts the norm statistics.
    """

    def __init__(
        self, net: nn.Module, runner: Runner, stability: float = 0.0, denoise: float = 0.0, blend: float = 0.0
    ):
        self.runner, self.net = runner, ema_norms(net, stability)
        self.smoothing = FlowSmoothing(denoise, blend) if stability or denoise or blend else None

    def __call__(self, frame: np.ndarray) -> torch.Tensor:
        """The next frame ``(H, W, 3)`` uint8 -> its stylization ``(1, 3, H, W)`` float in [0, 1] (CPU)."""
        if self.smoothing is None:
            return self.runner(self.net, frame_tensor(frame))
        x = self.smoothing.input(frame)
        if self.smoothing.cut:
            reset_norms(self.runner.fast(self.net))
        return self.smoothing.output(self.runner(self.net, x))


# -- measurement -----------------------------------------------------------------------------
def pair_error(a: np.ndarray, b: np.ndarray, forward: np.ndarray, valid: np.ndarray) -> float:
    """Masked mean squared difference between ``a`` (frame t) and ``b`` (t+1) warped back, in [0, 1] units."""
    b_back = warp(b, forward)
    d = (a.astype(np.float32) - b_back.astype(np.float32)) / 255.0 if a.dtype == np.uint8 else a - b_back
    if not valid.any():
        return 0.0
    return float((d**2).mean(-1)[valid].mean())


class WarpingError:
    """Accumulates the warping error of several sequences (e.g. the input and its stylizations)
    with one flow (``flow``: "dis" or "farneback"): ``add(input_rgb, {"name": output_rgb, ...})``
    per frame, then ``means()``.

    Pairs across a cut (DIS flow consistent on under ``CUT_BELOW`` of the pixels, whatever
    ``flow`` measures with: Farneback's smoother flow looks consistent across a cut) are
    left out and counted in ``cuts``: frames of two shots have no motion to follow, and the
    few pixels the mask keeps there would outweigh every other pair.
    """

    def __init__(self, flow: str = "dis") -> None:
        self.cut_flow = FlowEstimator("dis")
        self.flow = self.cut_flow if flow == "dis" else FlowEstimator(flow)
        self.prev: tuple[np.ndarray, dict[str, np.ndarray]] | None = None
        self.sums: dict[str, float] = {}
        self.pairs = self.cuts = 0

    def add(self, frame: np.ndarray, outputs: dict[str, np.ndarray]) -> None:
        """``frame``: ``(H, W, 3)`` uint8 input; ``outputs``: same-size uint8 or [0, 1] float frames."""
        g = gray(frame)
        seqs = {"input": frame, **outputs}
        if self.prev is not None:
            g0, prev = self.prev
            fwd, bwd = self.cut_flow(g0, g), self.cut_flow(g, g0)
            valid = occlusion_mask(fwd, bwd)
            if valid.mean() < CUT_BELOW:
                self.cuts += 1
            else:
                if self.flow is not self.cut_flow:
                    fwd, bwd = self.flow(g0, g), self.flow(g, g0)
                    valid = occlusion_mask(fwd, bwd)
                for k, cur in seqs.items():
                    self.sums[k] = self.sums.get(k, 0.0) + pair_error(prev[k], cur, fwd, valid)
                self.pairs += 1
        self.prev = (g, seqs)

    def means(self) -> dict[str, float]:
        """``{sequence: mean over the pairs}`` (0 for each if no pair was measured)."""
        return {k: v / max(1, self.pairs) for k, v in self.sums.items()}


def warping_error(frames: list[np.ndarray], inputs: list[np.ndarray] | None = None, flow: str = "dis") -> float:
    """Mean warping error of ``frames`` (``(H, W, 3)`` uint8), flow from ``inputs`` (default: the frames)."""
    inputs = frames if inputs is None else inputs
    acc = WarpingError(flow)
    for x, y in zip(inputs, frames):
        acc.add(x, {"out": y})
    return acc.means().get("out", 0.0)
