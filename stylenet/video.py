"""``stylize_video(src, dst, style)``: clips in, clips out.

The input is demuxed once: video packets are decoded, stylized one frame at a time
and encoded (H.264, yuv420p, for .mp4/.mov/.mkv; per-frame palettes for .gif); audio
packets are copied into the output as they are, never re-encoded. Every frame keeps
its input timestamp, so frame rate (variable too), frame count and duration survive,
and the display rotation is kept (applied to the pixels for a GIF, which cannot store
it). Frames stream through, so memory does not grow with the clip's length; frames are
never tiled (a 4K frame goes through the network whole).

Stability (``stylenet.temporal``): instance-norm statistics carried across frames as
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
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from .color import apply_controls, check_strength
from .errors import StylenetError
from .fast import Runner
from .files import atomic_write, check_input_file
from .temporal import VIDEO_EXTRA, ClipStylizer, check_stability, check_weight, frame_tensor, tensor_frame
from .transformer import MIN_SIDE, TransformerNet

# stability defaults, chosen by measurement on the two real clips (docs/quality.md, "Video")
DEFAULT_STABILITY = 0.9  # momentum of the norm statistics' moving average
DEFAULT_DENOISE = 0.8  # weight of the previous input, warped along the flow
DEFAULT_BLEND = 0.35  # weight of the previous output, warped along the flow
OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".gif": "gif"}
X264_OPTIONS = {"crf": "18", "preset": "medium"}
GIF_TIME_BASE = Fraction(1, 100)  # GIF delays are in hundredths of a second
STILL_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "image2pipe")


class VideoError(StylenetError):
    """A clip that cannot be used; the message names the file and the problem."""


class TruncatedVideoError(VideoError):
    """The clip ended early or broke off; ``result`` describes the output written from what decoded."""

    def __init__(self, message: str, result: VideoResult):
        super().__init__(message)
        self.result = result


@dataclass
class VideoResult:
    path: Path  # the output file
    frames: int  # frames written
    expected: int | None  # frames the input's header announces (None: not stated)
    fps: float  # frames stylized per second of wall time
    seconds: float  # wall time
    duration: float  # seconds of video written
    audio: bool  # an audio stream was copied
    lost_seconds: float = 0.0  # of a truncated clip


def _av():
    try:
        import av
    except ImportError:
        raise StylenetError(VIDEO_EXTRA) from None
    return av


def output_format(dst: str | os.PathLike) -> str:
    fmt = OUTPUT_FORMATS.get(Path(dst).suffix.lower())
    if fmt is None:
        raise StylenetError(f"{dst}: unsupported output type; name a {', '.join(OUTPUT_FORMATS)} file")
    return fmt


def open_clip(src: str | os.PathLike):
    """Open ``src`` for decoding; returns the PyAV container. Missing, empty, non-video files,
    still images and codecs this build cannot decode are a ``VideoError``."""
    av = _av()
    src = Path(src)
    check_input_file(src, "a video", VideoError)
    try:
        container = av.open(str(src))
    except av.FFmpegError as e:
        raise VideoError(f"{src}: not a video file PyAV can read ({e.strerror or e})") from None
    try:
        if container.format.name in STILL_IMAGE_FORMATS:
            raise VideoError(f"{src}: a still image, not a video; use `stylenet stylize`")
        if not container.streams.video:
            raise VideoError(f"{src}: has no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise VideoError(f"{src}: its video codec cannot be decoded by this PyAV build; convert it to H.264 first")
    except BaseException:
        container.close()
        raise
    return container


def fit_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """The stylized frame size: the longer side scaled down to ``max_side``."""
    if max_side and max(width, height) > max_side:
        s = max_side / max(width, height)
        width, height = max(1, round(width * s)), max(1, round(height * s))
    if min(width, height) < max(MIN_SIDE, 16):
        raise VideoError(f"frames of {width}x{height} are too small to stylize; at least 16x16 pixels are needed")
    return width, height


class _Writer:
    """The output container: video stream (set up at the first frame), audio copied packet by packet."""

    def __init__(self, path: Path, fmt: str, vin, ain, loop: int):
        av = _av()
        self.fmt, self.vin = fmt, vin
        self.out = av.open(str(path), "w", format=fmt, options={"loop": str(loop)} if fmt == "gif" else None)
        self.ain = ain if fmt != "gif" else None  # a GIF has no sound
        codec = self.ain.codec_context.name if self.ain is not None and self.ain.codec_context else None
        if codec and codec not in self.out.supported_codecs:
            self.out.close()
            raise VideoError(f"an {fmt} file cannot hold {codec} audio (copied, not re-encoded); write a .mkv")
        self.vout = self.aout = None
        self.pending: list = []  # audio packets that arrive before the first frame
        self.last_pts: int | None = None

    def start(self, frame, max_side: int | None) -> None:
        """Set up the video stream from the first frame: its size (``max_side``; even for yuv420p) and rotation."""
        vin = self.vin
        self.rotation = round(frame.rotation / 90) % 4 * 90
        self.scaled = fit_size(frame.width, frame.height, max_side)
        w, h = self.size = self.scaled if self.fmt == "gif" else (self.scaled[0] // 2 * 2, self.scaled[1] // 2 * 2)
        if self.fmt == "gif":  # no display matrix in a GIF: the pixels turn
            w, h = (h, w) if self.rotation in (90, 270) else (w, h)
            self.vout = self.out.add_stream("gif", rate=vin.average_rate or 25)
            self.vout.pix_fmt = "pal8"
            self.vout.codec_context.time_base = GIF_TIME_BASE
        else:
            self.vout = self.out.add_stream("libx264", rate=vin.average_rate or 25, options=X264_OPTIONS)
            self.vout.pix_fmt = "yuv420p"
            self.vout.codec_context.time_base = vin.time_base
            self.vout.time_base = vin.time_base
            if vin.sample_aspect_ratio:
                self.vout.codec_context.sample_aspect_ratio = vin.sample_aspect_ratio
            if self.rotation:
                self.vout.set_display_rotation(self.rotation)
        self.vout.width, self.vout.height = w, h
        if self.ain is not None:  # after the video stream, so that players take video from stream 0
            self.aout = self.out.add_stream_from_template(self.ain)
        for packet in self.pending:
            self.audio(packet)
        self.pending = []

    def audio(self, packet) -> None:
        if self.ain is None or packet.dts is None:
            return
        if self.aout is None:
            self.pending.append(packet)
            return
        packet.stream = self.aout
        self.out.mux(packet)

    def pixels(self, frame) -> np.ndarray:
        """A decoded frame at the output's size, ``(H, W, 3)`` uint8 (an odd side loses its last pixel)."""
        rgb = frame_to_rgb(frame, *self.scaled)
        return rgb if self.size == self.scaled else np.ascontiguousarray(rgb[: self.size[1], : self.size[0]])

    def video(self, rgb: np.ndarray, start: float, end: float) -> bool:
        """One ``(H, W, 3)`` uint8 frame shown from ``start`` to ``end`` (seconds on the input's clock);
        False if it was dropped (a repeated timestamp)."""
        av = _av()
        if self.fmt == "gif" and self.rotation:
            rgb = np.ascontiguousarray(np.rot90(rgb, self.rotation // 90))
        tb = GIF_TIME_BASE if self.fmt == "gif" else self.vin.time_base
        pts, pts_end = round(start / tb), round(end / tb)
        if self.last_pts is not None and pts <= self.last_pts:
            if self.fmt != "gif":
                return False  # a repeated timestamp: the encoder needs increasing ones
            pts = self.last_pts + 1
        self.last_pts = pts
        if self.fmt == "gif":
            frame = _palette_frame(rgb)
        else:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frame.pts, frame.time_base, frame.duration = pts, tb, max(1, pts_end - pts)
        self._mux(self.vout.encode(frame), frame.duration)
        return True

    def _mux(self, packets, duration: int | None = None) -> None:
        for p in packets:
            if self.fmt == "gif" and duration:
                p.duration = duration  # the GIF muxer takes each frame's delay from its packet
            self.out.mux(p)

    def close(self, flush: bool = True) -> None:
        """Flush the encoder (``flush``) and close the file; without ``flush``, just close (on an error)."""
        try:
            if flush and self.vout is not None:
                self._mux(self.vout.encode(None))
        finally:
            self.out.close()


def _palette_frame(rgb: np.ndarray):
    """A pal8 frame with this frame's own 256-colour palette (Pillow's median cut)."""
    from PIL import Image

    av = _av()
    img = Image.fromarray(rgb).quantize(256, dither=Image.Dither.NONE)
    colours = np.asarray(img.getpalette()[: 3 * 256], np.uint8).reshape(-1, 3)
    palette = np.zeros((256, 4), np.uint8)
    palette[:, 0] = 255  # ARGB: opaque
    palette[: len(colours), 1:] = colours
    return av.VideoFrame.from_ndarray((np.asarray(img), palette), format="pal8")


def _gif_loop(src: Path, container) -> int:
    """The GIF muxer's ``loop``: the input GIF's loop count (0: forever, -1: once), else forever."""
    if container.format.name != "gif":
        return 0
    from PIL import Image

    with Image.open(src) as im:
        return int(im.info["loop"]) if "loop" in im.info else -1


def frame_to_rgb(frame, width: int | None = None, height: int | None = None) -> np.ndarray:
    """A decoded frame as ``(H, W, 3)`` uint8 RGB, scaled to ``width`` x ``height`` if given.

    YUV goes through yuv444p first: swscale's direct yuv420p-to-RGB path is about 1/255 dark.
    """
    width, height = width or frame.width, height or frame.height
    if frame.format.name.startswith("yuv"):
        frame = frame.reformat(width=width, height=height, format="yuv444p")
    return frame.to_ndarray(format="rgb24", width=width, height=height)


def _stylize_frame(rgb: np.ndarray, stylizer: ClipStylizer, controls: tuple) -> np.ndarray:
    """``(H, W, 3)`` uint8 in, stylized ``(H, W, 3)`` uint8 out (``strength`` and colour against this frame)."""
    y = apply_controls(stylizer(rgb), frame_tensor(rgb), *controls).clamp(0, 1)
    return tensor_frame(y)


def _video_frames(container, vin, ain, audio, problems: list[str]) -> Iterator:
    """The clip's video frames in order; its audio packets go to ``audio``. Data that cannot be
    read ends the clip, after the frames the decoder still holds; ``problems`` gets the reason."""
    av = _av()
    try:
        for packet in container.demux(*[s for s in (vin, ain) if s is not None]):
            if packet.stream is vin:
                yield from packet.decode()
            else:
                audio(packet)
    except av.FFmpegError as e:  # corrupt or cut-off data: keep what decoded
        problems.append(f"{e.strerror or e}")
        try:
            yield from vin.decode(None)
        except av.FFmpegError:
            pass


def _frame_times(frame, stream, index: int, rate: float) -> tuple[float, float]:
    tb = frame.time_base or stream.time_base
    start = float(frame.pts * tb) if frame.pts is not None else index / rate
    length = float(frame.duration * tb) if frame.duration else 1 / rate
    return start, start + length


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
    stability: float = DEFAULT_STABILITY,
    denoise: float = DEFAULT_DENOISE,
    blend: float = DEFAULT_BLEND,
    overwrite: bool = False,
    device: str | torch.device | None = None,
    precision: str = "auto",
    progress: bool = True,
) -> VideoResult:
    """Stylize the clip ``src`` into ``dst`` (.mp4, .mov, .mkv or .gif); returns what was written.

    ``style``, ``network``, ``strength``, ``preserve_color``, ``max_side``, ``device`` and
    ``precision`` are as in ``stylenet.stylize``. Stability across frames
    (``stylenet.temporal``): ``stability`` is the momentum of the norm statistics' moving
    average (0: per-frame statistics); ``denoise`` and ``blend`` are the weights of the
    previous input and output, warped along the input's optical flow (0: off). An existing
    ``dst`` is replaced only with ``overwrite``. A clip that breaks off is written up to
    where it decoded, then ``TruncatedVideoError`` says what was lost.

    ``style_image`` (and ``style_weights``, ``style_size``; ``network`` is then the AdaIN
    decoder) takes any painting instead of ``style``, as in ``stylenet.stylize``: its
    statistics are computed once for the clip; ``stability`` is then the momentum of a
    moving average of the frames' relu4_1 statistics (``stylenet.arbitrary``), and
    ``strength`` is AdaIN's alpha (feature space).
    """
    from .progress import progress_bar
    from .registry import load
    from .stylize import require_one_style

    src, dst = Path(src), Path(dst)
    fmt = output_format(dst)
    if style_image is not None and style is not None:
        raise StylenetError("give style (a trained style) or style_image (any painting), not both")
    if style_image is None and style is None:
        raise StylenetError("give a style (a trained style's name or file) or style_image (any painting)")
    if style_image is not None:
        from . import arbitrary

        alpha = arbitrary.check_alpha(strength)
        controls = (1.0, 1.0 if preserve_color else 0.0)
    else:
        controls = (check_strength(strength), 1.0 if preserve_color else 0.0)
    stability = check_stability(stability)
    denoise, blend = check_weight(denoise, "denoise"), check_weight(blend, "blend")
    with open_clip(src) as container:
        if dst.exists() and dst.resolve() == src.resolve():
            raise StylenetError(f"{dst}: is the input clip; write the output to another file")
        if dst.exists() and not overwrite:
            raise FileExistsError(f"{dst}: exists; pass overwrite (--overwrite) to replace it")
        if style_image is not None:
            net = arbitrary.prepare(arbitrary.load_decoder(network), device, precision)
            target = arbitrary.target_stats(net, style_image, style_weights, style_size)  # once for the clip
            if hasattr(net, "one_style"):  # a style predictor (stylenet.predictor)
                from .predictor import PredictorClipStylizer

                knobs = (stability, denoise, blend, device, precision)
                stylizer = PredictorClipStylizer(net, target[0], alpha, *knobs)
            else:
                stylizer = arbitrary.PaintingClipStylizer(net, target, alpha, stability, denoise, blend)
        else:
            if isinstance(style, TransformerNet) and device is None:
                device = next(style.parameters()).device
            direct = isinstance(style, TransformerNet) and network is None
            net = require_one_style(style if direct else load(style, device, network=network))
            runner = Runner(torch.device(device or "cpu"), precision)  # this clip's own: the norms' state in its copy
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
