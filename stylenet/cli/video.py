"""``stylenet video``: a clip in, the stylized clip out (the [video] extra; PyAV is imported when a clip is opened)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..defaults import BLEND, DENOISE, STABILITY
from ..io.files import check_output
from . import common

NAME = "video"
HELP = "stylize a video clip (needs the [video] extra)"
DESCRIPTION = "Stylize a clip (.mp4, .mov, .mkv, .gif ...): same frames, timing, rotation; audio copied."


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("input", metavar="INPUT", help="the clip")
    s.add_argument("-s", "--style", help="style name, weights file, or a mix: mosaic:0.7,udnie:0.3")
    common.add_style_image(s)
    s.add_argument(
        "--network",
        help="the multi-style network (name or file) that --style names select from; "
        "with --style-image, the AdaIN decoder or style predictor (adain.safetensors, predictor.safetensors)",
    )
    s.add_argument(
        "-o", "--output", help="output file (.mp4, .mov, .mkv, .gif) or folder (default: INPUT_STYLE.ext beside it)"
    )
    s.add_argument(
        "--strength",
        type=float,
        default=1.0,
        help="0 to 1 (full style; default): as stylize's --strength, frame by frame",
    )
    s.add_argument("--preserve-color", action="store_true", help="keep the clip's colours")
    s.add_argument("--max-side", type=int, help="scale the longer side down to this before stylizing")
    s.add_argument(
        "--stability",
        type=float,
        default=STABILITY,
        help=f"momentum of the norm statistics' average across frames; 0: per-frame (default {STABILITY})",
    )
    s.add_argument(
        "--denoise",
        type=float,
        default=DENOISE,
        help=f"weight of the previous input frame, warped along the optical flow; 0: off (default {DENOISE})",
    )
    s.add_argument(
        "--blend",
        type=float,
        default=BLEND,
        help=f"weight of the previous output, warped along the optical flow; 0: off (default {BLEND})",
    )
    s.add_argument("--device", help="cpu, cuda, cuda:1 ... (default cpu)")
    common.add_precision(s)
    s.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    s.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def _video_output(src: Path, output: str | None, style_label: str) -> Path:
    """``-o`` as given (a folder: the input's name inside it), else ``CLIP_STYLE.ext`` beside the input
    (the input's type when it can be written, else .mp4)."""
    from ..video.io import OUTPUT_FORMATS

    suffix = src.suffix if src.suffix.lower() in OUTPUT_FORMATS else ".mp4"
    name = f"{src.stem}_{style_label}{suffix}"
    if output is None:
        return src.with_name(name)
    return Path(output) / name if Path(output).is_dir() else Path(output)


def run(a: argparse.Namespace) -> int:
    from ..infer import memory

    memory.keep_freed_memory()  # repeated forward passes reuse it (tiling returns it)
    from ..video.stylize import stylize_video

    paintings = common.style_choice(a)
    dest = _video_output(Path(a.input), a.output, common.output_label(a, paintings))
    if Path(a.input).exists():  # a missing input is the error to report first
        check_output(dest, a.overwrite, "--overwrite")
    if paintings is None:
        kwargs = {"network": a.network}
    else:
        from ..infer import arbitrary

        network = arbitrary.load_decoder(a.network, a.vgg)
        kwargs = {"network": network, "style_image": paintings[0], "style_weights": paintings[1]}
        kwargs["style_size"] = a.style_size
    r = stylize_video(
        a.input,
        dest,
        a.style,
        **kwargs,
        strength=a.strength,
        preserve_color=a.preserve_color,
        max_side=a.max_side,
        stability=a.stability,
        denoise=a.denoise,
        blend=a.blend,
        overwrite=a.overwrite,
        device=a.device,
        precision=a.precision,
        progress=not a.quiet,
    )
    if not a.quiet:
        sound = ", audio copied" if r.audio else ""
        print(f"wrote {dest}: {r.frames} frames, {r.duration:.2f} s{sound} ({r.fps:.2f} frames/s)")
    return common.EXIT_OK
