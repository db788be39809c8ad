"""Clips in and out: opening a clip, writing one (H.264 or GIF, audio copied), frames as arrays and tensors.

PyAV (the [video] extra) is imported when a clip is opened, not with this module. Bad
clips raise ``VideoError`` with one line naming the file and the problem; a clip that
breaks off gives ``TruncatedVideoError``, which carries what was written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ..defaults import MIN_SIDE
from ..errors import StylenetError
from ..io.files import check_input_file

VIDEO_EXTRA = "video needs the [video] extra: pip install 'stylenet[video]'"
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


def import_av():
    """PyAV, or a one-line error naming the ``[video]`` extra (stylenet itself never imports it eagerly)."""
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
    av = import_av()
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
    if min(width, height) < MIN_SIDE:
        raise VideoError(
            f"frames of {width}x{height} are too small to stylize; at least {MIN_SIDE}x{MIN_SIDE} pixels are needed"
        )
    return width, height


class _Writer:
    """The output container: video stream (set up at the first frame), audio copied packet by packet."""

    def __init__(self, path: Path, fmt: str, vin, ain, loop: int):
        av = import_av()
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
        av = import_av()
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

    av = import_av()
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


def _video_frames(container, vin, ain, audio, problems: list[str]) -> Iterator:
    """The clip's video frames in order; its audio packets go to ``audio``. Data that cannot be
    read ends the clip, after the frames the decoder still holds; ``problems`` gets the reason."""
    av = import_av()
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


def frame_tensor(rgb: np.ndarray) -> torch.Tensor:
    """A ``(H, W, 3)`` uint8 frame (read-only too) -> ``(1, 3, H, W)`` float in [0, 1] (a new tensor)."""
    return torch.tensor(rgb, dtype=torch.float32).permute(2, 0, 1).unsqueeze(0).div_(255)


def tensor_frame(y: torch.Tensor) -> np.ndarray:
    """A ``(1, 3, H, W)`` tensor in [0, 1] -> ``(H, W, 3)`` uint8 frame, rounded."""
    return y[0].permute(1, 2, 0).mul(255).round().to(torch.uint8).numpy()
