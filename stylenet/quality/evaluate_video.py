"""How steady is a style on a clip? The temporal warping error and the losses, per-frame
against the stable settings (``stylenet evaluate --video``).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..errors import StylenetError
from ..infer.runner import Runner
from ..loss.perceptual import PerceptualLoss
from ..video.io import frame_tensor, tensor_frame
from ..video.metric import WarpingError

VIDEO_METRICS = ("warping", "content", "style", "seconds")


def evaluate_video(
    clip: str | Path,
    net: torch.nn.Module,
    criterion: PerceptualLoss,
    settings: dict[str, tuple[float, float, float]],
    max_frames: int | None = None,
    max_side: int | None = None,
    device: str = "cpu",
    progress: bool = True,
    flow: str = "dis",
    precision: str = "auto",
) -> tuple[dict[str, dict[str, float]], WarpingError, str | None]:
    """Temporal warping error and losses of ``net`` on a clip, for each ``{label: (stability, denoise, blend)}``
    (``stylenet.stylize_video``'s settings).

    Returns ``({label: {metric: mean}}, the warping error's accumulator (``pairs``, ``cuts``),
    problem)``; the first row, "input clip", holds the input frames' own figures. Losses are
    per-frame means, computed on the frames as stylized (``max_side``); the warping error
    (``stylenet.video.metric``) is a mean over consecutive pairs of one shot, along ``flow``
    ("dis", the flow ``denoise`` and ``blend`` follow, or "farneback", an independent check). ``problem`` says
    why decoding stopped early, if it did.
    """
    from ..io.progress import progress_bar
    from ..video.io import fit_size, frame_to_rgb, import_av, open_clip
    from ..video.stabilize import ClipStylizer

    av = import_av()
    runner = Runner(device, precision)
    stylizers = {label: ClipStylizer(net, runner, *s) for label, s in settings.items()}
    warping = WarpingError(flow)
    sums = {label: dict.fromkeys(VIDEO_METRICS, 0.0) for label in ("input clip", *settings)}
    n, problem = 0, None
    with open_clip(clip) as container:
        stream = container.streams.video[0]
        total = min(stream.frames or max_frames or 0, max_frames or stream.frames) or None
        bar = progress_bar(total=total, desc=Path(clip).name, unit="frame", disable=not progress)
        try:
            for frame in container.decode(stream):
                if max_frames and n >= max_frames:
                    break
                size = fit_size(frame.width, frame.height, max_side)
                rgb = frame_to_rgb(frame, *size)
                x = frame_tensor(rgb)
                outputs = {}
                for label, stylize_frame in stylizers.items():
                    start = time.perf_counter()
                    outputs[label] = stylize_frame(rgb)
                    sums[label]["seconds"] += time.perf_counter() - start
                for label, y in [("input clip", x), *outputs.items()]:
                    with torch.inference_mode():
                        parts = criterion(y.to(device), x.to(device))
                    sums[label]["content"] += float(parts["content"])
                    sums[label]["style"] += float(parts["style"])
                warping.add(rgb, {k: tensor_frame(y) for k, y in outputs.items()})
                n += 1
                bar.update(1)
        except av.FFmpegError as e:
            problem = f"decoding stopped after {n} frames: {e.strerror or e}"
        finally:
            bar.close()
    if not warping.pairs:
        raise StylenetError(f"{clip}: {n} frame(s) decoded and no two of one shot; the warping error needs a pair")
    errors = warping.means()
    means = {}
    for label, s in sums.items():
        means[label] = {k: s[k] / n for k in ("content", "style", "seconds")}
        means[label]["warping"] = errors["input" if label == "input clip" else label]
    return means, warping, problem
