"""How much a stylized clip flickers: the temporal warping error (Lai et al. 2018 after Ruder et al. 2016).

The mean squared difference between output frame t and output frame t+1 warped back to
t by the optical flow of the *input* frames (``stylenet.video.flow``), over the pixels the
flow can follow (not occluded), pixels in [0, 1]. Pairs across a cut are left out.
"""

from __future__ import annotations

import numpy as np

from .flow import CUT_BELOW, FlowEstimator, gray, occlusion_mask, warp


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
