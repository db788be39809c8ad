"""Keeping stylized video from flickering.

A network applied to each frame on its own flickers: small changes of the picture
(motion, grain, compression) change the strokes. At inference:

* ``ema_norms`` (``stability``): each instance-norm layer normalises a frame with an
  exponential moving average of the per-channel mean and variance of the frames so far
  (the momentum; 0 gives per-frame statistics, the plain network), as
  ``stylenet.infer.tiling`` shares one image's statistics across its tiles: whole-frame shifts
  of colour and contrast stop when something enters, leaves or blinks.
* ``FlowSmoothing`` (``denoise``, ``blend``): running averages along the input's optical
  flow (``stylenet.video.flow``) of the input frames (grain and compression noise average
  away before the network can amplify them) and of the outputs (what still flickers averages away).

``ClipStylizer`` applies a one-style network to a clip's frames with all three; how well
they work is measured by ``stylenet.video.metric``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import StylenetError
from ..infer.runner import Runner
from ..model.transformer import replace_norms
from .flow import CUT_BELOW, FlowEstimator, gray, occlusion_mask, warp
from .io import frame_tensor


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
    return replace_norms(net, lambda name, m: EmaInstanceNorm(m, momentum))


def reset_norms(net: nn.Module) -> None:
    """Forget the statistics of previous frames (every ``EmaInstanceNorm`` of ``net``)."""
    for m in net.modules():
        if isinstance(m, EmaInstanceNorm):
            m.reset()


def check_stability(momentum: float) -> float:
    if not 0.0 <= float(momentum) < 1.0:
        raise StylenetError(f"stability={momentum}: use a momentum from 0 (per-frame statistics) to below 1")
    return float(momentum)


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
