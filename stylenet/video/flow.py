"""Optical flow between consecutive frames (OpenCV, the [video] extra): estimation, warping,
occlusions, cuts.

Flow: OpenCV's DIS optical flow (medium preset) on grayscale frames, or Farneback's as an
independent check. Occlusions: forward-backward consistency (Ruder et al. 2016),
``|w + w_back(x + w)|^2 > 0.01 (|w|^2 + |w_back(x + w)|^2) + 0.5``. A frame whose flow is
consistent on under ``CUT_BELOW`` of its pixels starts a new shot.
"""

from __future__ import annotations

import numpy as np

from ..errors import StylenetError
from .io import VIDEO_EXTRA

CUT_BELOW = 0.25  # a frame whose flow is consistent on less than this fraction of pixels starts a new shot


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
