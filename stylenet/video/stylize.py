"""``stylize_video(src, dst, style)``: clips in, clips out.

The input is demuxed once: video packets are decoded, stylized one frame at a time
and encoded (H.264, yuv420p, for .mp4/.mov/.mkv; per-frame palettes for .gif); audio
packets are copied into the output as they are, never re-encoded. Every frame keeps
its input timestamp, so frame rate (variable too), frame count and duration survive,
and the display rotation is kept (applied to the pixels for a GIF, which cannot store
it). Frames stream through, so memory does not grow with the clip's length; frames are
never tiled (a 4K frame goes through the network whole).

Stability (``stylenet.video.stabilize``): instance-norm statistics carried across frames as
an exponential moving average (``stability``, the momentum; 0 = per-frame), and running
averages along the input's optical flow of the input frames (``denoise``) and of the
outputs (``blend``). Errors are one line (``StylenetError``); the output is
written atomically, so a failure or Ctrl-C leaves no file behind. A truncated clip
gives the frames that decoded, then ``TruncatedVideoError`` naming what was lost.
Needs the [video] extra (PyAV, OpenCV).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from ..defaults import BLEND, DENOISE, STABILITY
from ..errors import StylenetError
from ..infer.controls import Controls
from ..infer.runner import Runner
from ..io.files import atomic_write, check_output
from .io import (
    TruncatedVideoError,
    VideoError,
    VideoResult,
    _frame_times,
    _gif_loop,
    _video_frames,
    _Writer,
    frame_tensor,
    open_clip,
    output_format,
    tensor_frame,
)
from .stabilize import ClipStylizer, check_stability, check_weight


def _stylize_frame(rgb: np.ndarray, stylizer: ClipStylizer, controls: Controls) -> np.ndarray:
    """``(H, W, 3)`` uint8 in, stylized ``(H, W, 3)`` uint8 out (``strength`` and colour against this frame)."""
    y = controls(stylizer(rgb), frame_tensor(rgb)).clamp(0, 1)
    return tensor_frame(y)


def stylize_video(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    style=None,
    *,
    style_image=None,
    style_weights=None,
    style_size: int | str | None = "auto",
    network=None,
    strength: float = 1.0,
    preserve_color: bool = False,
    max_side: int | None = None,
    stability: float = STABILITY,
    denoise: float = DENOISE,
    blend: float = BLEND,
    overwrite: bool = False,
    device: str | torch.device | None = None,
    precision: str = "auto",
    progress: bool = True,
) -> VideoResult:
    """Stylize the clip ``src`` into ``dst`` (.mp4, .mov, .mkv or .gif); returns what was written.

    ``style``, ``network``, ``strength``, ``preserve_color``, ``max_side``, ``device`` and
    ``precision`` are as in ``stylenet.stylize``. Stability across frames
    (``stylenet.video.stabilize``): ``stability`` is the momentum of the norm statistics' moving
    average (0: per-frame statistics); ``denoise`` and ``blend`` are the weights of the
    previous input and output, warped along the input's optical flow (0: off). An existing
    ``dst`` is replaced only with ``overwrite``. A clip that breaks off is written up to
    where it decoded, then ``TruncatedVideoError`` says what was lost.

    ``style_image`` (and ``style_weights``, ``style_size``; ``network`` is then the AdaIN
    decoder) takes any painting instead of ``style``, as in ``stylenet.stylize``: its
    statistics are computed once for the clip; ``stability`` is then the momentum of a
    moving average of the frames' relu4_1 statistics (``stylenet.infer.arbitrary``), and
    ``strength`` is AdaIN's alpha (feature space).
    """
    from ..io.progress import progress_bar
    from ..styles.load import one_style

    src, dst = Path(src), Path(dst)
    fmt = output_format(dst)
    if style_image is not None and style is not None:
        raise StylenetError("give style (a trained style) or style_image (any painting), not both")
    if style_image is None and style is None:
        raise StylenetError("give a style (a trained style's name or file) or style_image (any painting)")
    if style_image is not None:
        from ..infer import arbitrary

        alpha = arbitrary.check_alpha(strength)
    controls = Controls.of(strength, preserve_color, feature_space=style_image is not None)
    stability = check_stability(stability)
    denoise, blend = check_weight(denoise, "denoise"), check_weight(blend, "blend")
    with open_clip(src) as container:
        if dst.exists() and dst.resolve() == src.resolve():
            raise StylenetError(f"{dst}: is the input clip; write the output to another file")
        check_output(dst, overwrite)
        if style_image is not None:
            net = arbitrary.prepare(arbitrary.load_decoder(network), device, precision)
            target = arbitrary.target_stats(net, style_image, style_weights, style_size)  # once for the clip
            if arbitrary.is_predictor(net):  # a style predictor (stylenet.model.predictor)
                from ..infer.predictor import PredictorClipStylizer

                knobs = (stability, denoise, blend, device, precision)
                stylizer = PredictorClipStylizer(net, target[0], alpha, *knobs)
            else:
                stylizer = arbitrary.PaintingClipStylizer(net, target, alpha, stability, denoise, blend)
        else:
            net, device = one_style(style, network, device)
            runner = Runner(device, precision)  # this clip's own: the norms' state in its copy
            stylizer = ClipStylizer(net, runner, stability, denoise, blend)

        vin = container.streams.video[0]
        vin.thread_type = "AUTO"
        ain = container.streams.audio[0] if container.streams.audio else None
        rate = float(vin.average_rate or vin.guessed_rate or 25)
        header_seconds = float(vin.duration * vin.time_base) if vin.duration else (container.duration or 0) / 1e6
        expected = vin.frames or None
        decoded, written, first, end = 0, 0, None, 0.0  # a frame with a repeated timestamp is decoded, not written
        start_time = time.perf_counter()
        bar = progress_bar(total=expected, unit="frame", desc=src.name, disable=None if progress else True)
        with atomic_write(dst, overwrite) as tmp:
            writer, done, problems = _Writer(tmp, fmt, vin, ain, _gif_loop(src, container)), False, []
            try:
                for frame in _video_frames(container, vin, ain, writer.audio, problems):
                    if writer.vout is None:
                        writer.start(frame, max_side)
                    t0, t1 = _frame_times(frame, vin, decoded, rate)
                    first = t0 if first is None else first
                    kept = writer.video(_stylize_frame(writer.pixels(frame), stylizer, controls), t0, t1)
                    decoded, written, end = decoded + 1, written + kept, t1
                    bar.update(1)
                broken = problems[0] if problems else None
                if not written:
                    raise VideoError(f"{src}: no frame could be decoded ({broken or 'the video stream is empty'})")
                done = True
            finally:
                bar.close()
                writer.close(flush=done)
        seconds = time.perf_counter() - start_time
    covered = end - (first or 0.0)
    lost = max(0.0, header_seconds - covered) if header_seconds else 0.0
    result = VideoResult(dst, written, expected, written / seconds, seconds, covered, writer.aout is not None, lost)
    short = expected is not None and decoded < expected and lost > 0.5 / rate
    if broken or short or (expected is None and lost > 1.5 / rate):
        missing = f"{expected - decoded} of {expected} frames" if expected else f"about {round(lost * rate)} frames"
        raise TruncatedVideoError(
            f"{src}: truncated or corrupt ({broken or 'the clip ends early'}): {missing} ({lost:.2f} s) lost; "
            f"wrote the {written} frames that decoded to {dst}",
            result,
        )
    return result
