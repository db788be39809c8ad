"""The ``stylenet`` command (also ``python -m stylenet``).

Exit status: 0 done; 2 bad usage or bad input (in a batch: some inputs failed,
the others were written); 1 internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

from .cli_errors import report_errors
from .errors import StylenetError
from .imageio import IMAGE_EXTENSIONS, list_images

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


def _err(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"error: {msg}", file=sys.stderr)  # clean even while a progress bar is drawn


# -- stylize ---------------------------------------------------------------------------------
def _style_name(style: str) -> str:
    """A style argument as people read it: a weights file's stem, else the argument (a name or a mix)."""
    return Path(style).stem if Path(style).suffix == ".safetensors" else style


def _label(style: str) -> str:
    """A file-name-safe label of a style argument (a name, a file, or a mix)."""
    import re

    return re.sub(r"[^\w.-]+", "-", _style_name(style)).strip("-") or "styled"


def parse_style_image(spec: str) -> tuple[str, float]:
    """``painting.jpg`` or ``painting.jpg:0.7`` -> (path, weight). A path that exists is taken whole
    (even with a colon in its name); else the part after the last colon must be a weight."""
    if Path(spec).exists():
        return spec, 1.0
    path, sep, weight = spec.rpartition(":")
    if not sep or not path:
        return spec, 1.0
    try:
        w = float(weight)
    except ValueError:
        return spec, 1.0  # a colon in a (missing) file's name: the file check names it
    if not w >= 0:
        raise StylenetError(f"--style-image {spec}: the weight after ':' must be >= 0")
    return path, w


_STYLE_CHOICE = {  # usage errors: whether --style was given
    True: "--style (a trained style) and --style-image (any painting) exclude each other; give one of them",
    False: "give --style NAME (a trained style) or --style-image PAINTING[:WEIGHT] (any painting)",
}


def _style_choice(a: argparse.Namespace) -> tuple[list[str], list[float]] | None:
    """The paintings and weights of ``--style-image`` (None: ``--style`` is used); exactly one of the two."""
    if bool(a.style) == bool(a.style_image):
        raise StylenetError(_STYLE_CHOICE[bool(a.style)])
    if not a.style_image:
        return None
    pairs = [parse_style_image(s) for s in a.style_image]
    return [p for p, _ in pairs], [w for _, w in pairs]


def _paintings_label(paintings: list[str]) -> str:
    return _label("-".join(Path(p).stem for p in paintings))


def _plan_outputs(inputs: list[str], output: str | None, style_label: str) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(input file, output file) pairs, and the input folders that hold no images (each
    reported on stderr); folders expand to the images inside them.

    Without ``-o`` a file's output goes beside it (``photo_mosaic.jpg``) and a folder's
    into a sibling folder (``photos_mosaic/``), so that a second run never stylizes the
    first run's outputs. A GIF's output is a PNG unless ``-o`` names another file.
    """
    single_file_out = output is not None and Path(output).suffix.lower() in IMAGE_EXTENSIONS
    pairs: list[tuple[Path, Path]] = []
    empty = []
    for item in inputs:
        src = Path(item)
        if src.is_dir():
            files = list_images(src)
            empty += [] if files else [str(src)]
            base = Path(output) / src.name if output else src.with_name(f"{src.resolve().name}_{style_label}")
            pairs += [(f, _out_suffix(base / f.relative_to(src))) for f in files]
        elif single_file_out:
            pairs.append((src, Path(output)))
        elif output:
            pairs.append((src, _out_suffix(Path(output) / src.name)))
        else:
            pairs.append((src, _out_suffix(src.with_name(f"{src.stem}_{style_label}{src.suffix or '.png'}"))))
    if empty and not pairs:
        raise StylenetError(f"{', '.join(empty)}: no images in {'this folder' if len(empty) == 1 else 'these folders'}")
    for folder in empty:
        _err(f"{folder}: folder holds no images")
    if single_file_out and len(pairs) > 1:
        raise StylenetError(f"-o {output} names one file but there are {len(pairs)} inputs; give a folder")
    return pairs, empty


def _out_suffix(path: Path) -> Path:
    return path.with_suffix(".png") if path.suffix.lower() == ".gif" else path


def _return_freed_memory() -> None:
    """Make glibc hand large freed blocks back to the OS at once (glibc only; else a no-op).

    By default glibc raises its mmap threshold as big blocks are freed and then keeps
    them in the heap: tiling a 4K photo would hold the statistics pass's memory and
    the tiles' at the same time. A fixed 4 MB threshold keeps peak RSS lower.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 4 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def cmd_stylize(a: argparse.Namespace) -> int:
    from .progress import progress_bar

    _return_freed_memory()
    from .color import check_strength
    from .imageio import ImageError, save_image
    from .registry import load
    from .stylize import require_one_style, stylize

    paintings = _style_choice(a)
    if paintings is None:
        check_strength(a.strength)
        net = require_one_style(load(a.style, a.device, network=a.network))
        label = _label(a.style)
        kwargs = {}
    else:
        from . import arbitrary

        arbitrary.check_alpha(a.strength)
        net = arbitrary.prepare(arbitrary.load_decoder(a.network, a.vgg), a.device, a.precision)
        arbitrary.target_stats(net, *paintings, a.style_size)  # bad paintings fail before any photo
        label = _paintings_label(paintings[0])
        kwargs = {"style_image": paintings[0], "style_weights": paintings[1], "style_size": a.style_size}
    pairs, empty_folders = _plan_outputs(a.inputs, a.output, label)
    failed = 0
    # a bar for batches on a terminal (None: tqdm leaves it out when stderr is a pipe or a file)
    bar = progress_bar(pairs, desc="stylizing", unit="image", disable=True if len(pairs) < 2 or a.quiet else None)
    for src, dest in bar:
        if dest.exists() and not a.overwrite:
            _err(f"{dest}: exists; pass --overwrite to replace it (skipped {src})")
            failed += 1
            continue
        try:
            out = stylize(
                src,
                None if kwargs else net,
                network=net if kwargs else None,
                **kwargs,
                max_side=a.max_side,
                precision=a.precision,
                tile=a.tile,
                strength=a.strength,
                preserve_color=a.preserve_color,
            )
            save_image(out, dest, overwrite=a.overwrite)
        except (ImageError, FileExistsError) as e:
            _err(str(e))
            failed += 1
            continue
        if not a.quiet and len(pairs) < 2:
            print(f"wrote {dest}")
    if len(pairs) > 1 and not a.quiet:
        print(f"wrote {len(pairs) - failed} of {len(pairs)} images")
    return EXIT_BAD_INPUT if failed or empty_folders else EXIT_OK


# -- video -----------------------------------------------------------------------------------
def _video_output(src: Path, output: str | None, style_label: str) -> Path:
    """``-o`` as given (a folder: the input's name inside it), else ``CLIP_STYLE.ext`` beside the input
    (the input's type when it can be written, else .mp4)."""
    from .video import OUTPUT_FORMATS

    suffix = src.suffix if src.suffix.lower() in OUTPUT_FORMATS else ".mp4"
    name = f"{src.stem}_{style_label}{suffix}"
    if output is None:
        return src.with_name(name)
    return Path(output) / name if Path(output).is_dir() else Path(output)


def cmd_video(a: argparse.Namespace) -> int:
    _return_freed_memory()
    from .video import stylize_video

    paintings = _style_choice(a)
    label = _label(a.style) if paintings is None else _paintings_label(paintings[0])
    dest = _video_output(Path(a.input), a.output, label)
    if dest.exists() and not a.overwrite and Path(a.input).exists():
        raise StylenetError(f"{dest}: exists; pass --overwrite to replace it")
    if paintings is None:
        kwargs = {"network": a.network}
    else:
        from . import arbitrary

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
    return EXIT_OK


# -- styles, install, export -----------------------------------------------------------------
def _steps(card: dict) -> str:
    """A card's training steps as people read them: the total behind the weights where the card
    records it (``total_steps``), else the last run's, naming the file it fine-tuned."""
    steps, total = card.get("steps"), card.get("total_steps")
    if total is not None and total != steps:
        return f"{total} ({steps} in the last run)"
    init = card.get("recipe", {}).get("init_weights")
    if init and total is None:
        return f"{steps} (fine-tune of {Path(str(init).split(' ')[0]).stem})"
    return str(steps if steps is not None else "")


def cmd_styles(a: argparse.Namespace) -> int:
    from .registry import available_styles

    styles = available_styles()
    if a.json:
        print(
            json.dumps(
                {n: {"origin": s.origin, "sha256": s.sha256, "card": s.card} for n, s in styles.items()}, indent=2
            )
        )
        return EXIT_OK
    if not styles:
        print("no styles available; train one (scripts/train.py) and `stylenet install` it")
        return EXIT_OK
    rows = [("name", "origin", "network", "artwork", "licence", "steps")]
    for n, s in styles.items():
        img = s.card.get("style_image", {})
        network = f"{s.file.stem} (multi-style)" if s.row else f"{len(s.styles)} styles" if s.styles else "own file"
        title, licence = img.get("title", "")[:40], img.get("licence", "")[:40]
        rows.append((n, s.origin, network, title, licence, _steps(s.card)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return EXIT_OK


def cmd_install(a: argparse.Namespace) -> int:
    from .registry import install

    s = install(a.weights, a.name, a.overwrite)
    print(f"installed {s.name} -> {s.file}; use stylenet.load({s.name!r}) or --style {s.name}")
    return EXIT_OK


def cmd_export(a: argparse.Namespace) -> int:
    from .export import checkpoint_to_weights

    src = Path(a.weights)
    if a.format == "safetensors":
        if src.suffix != ".ckpt":
            raise StylenetError(f"{src}: --format safetensors converts a Lightning .ckpt; this file is not one")
        out = Path(a.output or src.with_suffix(".safetensors"))
        checkpoint_to_weights(src, out, overwrite=a.overwrite)
    else:
        from .arbitrary import is_adain_file, load_decoder
        from .onnx_export import export_adain_onnx, export_onnx
        from .registry import load

        out = Path(a.output or f"{_label(a.weights)}.onnx")
        if out.exists() and not a.overwrite:
            raise FileExistsError(f"{out}: exists; pass --overwrite to replace it")
        if src.is_file() and is_adain_file(src):
            export_adain_onnx(load_decoder(src, a.vgg), out, opset=a.opset)
        else:
            export_onnx(load(a.weights, network=a.network), out, opset=a.opset)
    print(f"wrote {out}")
    return EXIT_OK


def cmd_optimize(a: argparse.Namespace) -> int:
    from .imageio import save_image
    from .optimize import loss_config, optimize

    out = Path(a.output or Path(a.content).with_name(f"{Path(a.content).stem}_optimized.png"))
    if out.exists() and not a.overwrite:
        raise FileExistsError(f"{out}: exists; pass --overwrite to replace it")
    cfg = loss_config(a.vgg, a.content_weight, a.style_weight, a.tv_weight)
    image = optimize(
        a.content,
        a.style_image,
        steps=a.steps,
        method=a.method,
        size=a.size,
        style_size=a.style_size,
        loss=cfg,
        precision=a.precision,
    )
    save_image(image, out, overwrite=a.overwrite)
    print(f"wrote {out}")
    return EXIT_OK


def cmd_evaluate(a: argparse.Namespace) -> int:
    from .download import sha256_file
    from .evaluate import (
        criterion_for,
        evaluate,
        format_table,
        loss_settings,
        saved_results,
        select_photos,
        style_image_for,
    )
    from .registry import load
    from .stylize import require_one_style

    if a.video:
        return _evaluate_video(a)
    if not a.photos:
        raise StylenetError("evaluate needs --photos FOLDER (or --video CLIP)")
    methods: dict[str, object] = {}
    card: dict = {}
    for s in a.style:
        if s.startswith("optimize"):
            steps = int(s.partition(":")[2] or 100)
            methods[f"optimize, {steps} L-BFGS steps"] = ("optimize", steps)
        else:
            net = require_one_style(load(s, a.device, network=None if Path(s).is_file() else a.network))
            label = _style_name(s)
            methods[s if label in methods else label] = net  # two files of one name: their paths
            card = card or net.card
    size = a.size or card.get("recipe", {}).get("image_size") or 256
    style_size = a.style_size or card.get("style_image", {}).get("size") or 2 * size
    style_image = a.style_image or style_image_for(card, a.styles_dir)
    weights = {"content_weight": a.content_weight, "style_weight": a.style_weight, "tv_weight": a.tv_weight}
    criterion = criterion_for(card, a.vgg, style_image, style_size, a.device, weights)
    photos = select_photos(a.photos, a.holdout, a.limit)
    measured = {"photos": [p.name for p in photos], "size": size, "style_image": str(style_image)}
    measured |= {"style_size": style_size, "vgg": criterion.vgg.describe(), "loss": loss_settings(criterion)}
    measured["style_image_sha256"] = sha256_file(style_image)
    saved = [row for ref in a.reference or [] for row in saved_results(ref, measured)]  # checked before any work
    results = evaluate(
        methods, photos, criterion, size=size, device=a.device, progress=not a.quiet, precision=a.precision
    )
    results += saved
    print(f"style image {style_image} at {style_size} px, photos at {size} px, VGG {criterion.vgg.describe()}")
    print(format_table(results))
    if a.per_image:
        for r in results:
            for row in r.images:
                print(
                    f"  {r.label:28s} {row['photo']:32s} " + " ".join(f"{k}={row[k]:.4g}" for k in row if k != "photo")
                )
    if a.json:
        report = {
            "style_image": str(style_image),
            "style_image_sha256": measured["style_image_sha256"],
            "style_size": style_size,
            "size": size,
            "vgg": criterion.vgg.describe(),
            "loss": measured["loss"],
            "photos": [str(p) for p in photos],
            "results": {r.label: {"mean": r.mean(), "images": r.images} for r in results},
        }
        Path(a.json).write_text(json.dumps(report, indent=2))
        print(f"wrote {a.json}")
    return EXIT_OK


def _evaluate_video(a: argparse.Namespace) -> int:
    """``evaluate --video``: warping error and losses of the input, per-frame and stable stylization."""
    import itertools

    from .evaluate import criterion_for, evaluate_video, format_video_table, style_image_for
    from .registry import load
    from .stylize import require_one_style
    from .temporal import check_stability, check_weight
    from .video import DEFAULT_BLEND, DEFAULT_DENOISE, DEFAULT_STABILITY

    if len(a.style) != 1:
        raise StylenetError(f"--video evaluates one style; got {len(a.style)} (--style {' --style '.join(a.style)})")
    net = require_one_style(load(a.style[0], a.device, network=a.network))
    settings = {"per-frame": (0.0, 0.0, 0.0)}  # then a row for each combination asked for
    for m, d, b in itertools.product(
        a.stability or [DEFAULT_STABILITY], a.denoise or [DEFAULT_DENOISE], a.blend or [DEFAULT_BLEND]
    ):
        settings[f"stable {m:g}, denoise {d:g}, blend {b:g}"] = (
            check_stability(m),
            check_weight(d, "denoise"),
            check_weight(b, "blend"),
        )
    card = net.card
    style_size = a.style_size or card.get("style_image", {}).get("size") or 512
    style_image = a.style_image or style_image_for(card, a.styles_dir)
    criterion = criterion_for(card, a.vgg, style_image, style_size, a.device)
    means, warping, problem = evaluate_video(
        a.video,
        net,
        criterion,
        settings,
        a.max_frames,
        a.max_side,
        a.device,
        progress=not a.quiet,
        flow=a.flow,
        precision=a.precision,
    )
    print(
        f"{a.video}, style {a.style[0]}, style image {style_image} at {style_size} px, VGG {criterion.vgg.describe()}, "
        f"{a.flow} optical flow"
    )
    print(format_video_table(means, warping.pairs, warping.cuts))
    if problem:
        _err(f"{a.video}: {problem}")
    if a.json:
        report = {
            "video": str(a.video),
            "style": a.style[0],
            "pairs": warping.pairs,
            "cuts_left_out": warping.cuts,
            "max_side": a.max_side,
            "flow": a.flow,
            "rows": means,
        }
        Path(a.json).write_text(json.dumps(report, indent=2))
        print(f"wrote {a.json}")
    return EXIT_BAD_INPUT if problem else EXIT_OK


def cmd_train(a: argparse.Namespace) -> int:
    try:
        from .training.app import main as train_main
    except ImportError as e:
        raise StylenetError(
            f"training needs the [train] extra ({e.name} is missing): pip install 'stylenet[train]'"
        ) from None
    train_main(a.overrides, prog="stylenet train")
    return EXIT_OK


def cmd_bench(a: argparse.Namespace) -> int:
    from .bench import run

    return run(a)


# -- parser ----------------------------------------------------------------------------------
def add_precision(s: argparse.ArgumentParser, what: str = "") -> None:
    from .precision import INFERENCE

    s.add_argument(
        "--precision",
        choices=INFERENCE,
        default="auto",
        help=f"{what + ': ' if what else ''}auto (default) = bf16 where the hardware computes it natively, else fp32",
    )


def add_style_image(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--style-image",
        action="append",
        metavar="PAINTING[:WEIGHT]",
        help="any painting as the style (an AdaIN decoder or style predictor: --network); repeat to mix: "
        "--style-image a.jpg:0.7 --style-image b.jpg:0.3. Not with --style",
    )
    s.add_argument(
        "--style-size",
        type=lambda v: v if v == "auto" else int(v),
        default="auto",
        help="--style-image: the painting's shorter side (auto: the network's, 512 for AdaIN, a predictor's own)",
    )
    s.add_argument("--vgg", help="--style-image: the network's VGG weights, if not where its file's header says")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .losses import DEFAULT_CONTENT_WEIGHT, DEFAULT_STYLE_WEIGHT, DEFAULT_TV_WEIGHT

    p = argparse.ArgumentParser(prog="stylenet", description="Fast neural style transfer.")
    p.add_argument("--version", action="version", version=f"stylenet {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("stylize", help="stylize images", description="Stylize image files or folders of images.")
    s.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    s.add_argument(
        "-s",
        "--style",
        help="style name (see `stylenet styles`), weights file, or a mix of one network's styles: mosaic:0.7,udnie:0.3",
    )
    add_style_image(s)
    s.add_argument(
        "--strength",
        type=float,
        default=1.0,
        help="0 (the photo; with --style-image: the decoder's reconstruction of it) to 1 (full style; default)",
    )
    s.add_argument(
        "--preserve-color", action="store_true", help="keep the photo's colours (luminance-only style transfer)"
    )
    s.add_argument(
        "--network",
        help="the multi-style network (name or file) that --style names select from; "
        "with --style-image, the AdaIN decoder or style predictor (adain.safetensors, predictor.safetensors)",
    )
    s.add_argument(
        "-o", "--output", help="output folder, or a file for a single input (default: INPUT_STYLE.ext beside it)"
    )
    s.add_argument("--max-side", type=int, help="scale the longer side down to this before stylizing")
    s.add_argument("--device", help="cpu, cuda, cuda:1 ... (default cpu)")
    add_precision(s)
    s.add_argument("--tile", type=int, help="tile side in pixels (default: tile only images over ~2.5 MP)")
    s.add_argument("--overwrite", action="store_true", help="replace existing output files")
    s.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    s.set_defaults(func=cmd_stylize)

    from .temporal import FLOWS
    from .video import DEFAULT_BLEND, DEFAULT_DENOISE, DEFAULT_STABILITY  # no PyAV import: that waits for a clip

    s = sub.add_parser(
        "video",
        help="stylize a video clip (needs the [video] extra)",
        description="Stylize a clip (.mp4, .mov, .mkv, .gif ...): same frames, timing, rotation; audio copied.",
    )
    s.add_argument("input", metavar="INPUT", help="the clip")
    s.add_argument("-s", "--style", help="style name, weights file, or a mix: mosaic:0.7,udnie:0.3")
    add_style_image(s)
    s.add_argument(
        "--network",
        help="the multi-style network (name or file) that --style names select from; "
        "with --style-image, the AdaIN decoder or style predictor (adain.safetensors, predictor.safetensors)",
    )
    s.add_argument(
        "-o", "--output", help="output file (.mp4, .mov, .mkv, .gif) or folder (default: INPUT_STYLE.ext beside it)"
    )
    s.add_argument("--strength", type=float, default=1.0, help="0 (the clip) to 1 (full style; default)")
    s.add_argument("--preserve-color", action="store_true", help="keep the clip's colours")
    s.add_argument("--max-side", type=int, help="scale the longer side down to this before stylizing")
    s.add_argument(
        "--stability",
        type=float,
        default=DEFAULT_STABILITY,
        help=f"momentum of the norm statistics' average across frames; 0: per-frame (default {DEFAULT_STABILITY})",
    )
    s.add_argument(
        "--denoise",
        type=float,
        default=DEFAULT_DENOISE,
        help=f"weight of the previous input frame, warped along the optical flow; 0: off (default {DEFAULT_DENOISE})",
    )
    s.add_argument(
        "--blend",
        type=float,
        default=DEFAULT_BLEND,
        help=f"weight of the previous output, warped along the optical flow; 0: off (default {DEFAULT_BLEND})",
    )
    s.add_argument("--device", help="cpu, cuda, cuda:1 ... (default cpu)")
    add_precision(s)
    s.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    s.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    s.set_defaults(func=cmd_video)

    s = sub.add_parser("styles", help="list available styles", description="List styles with their model cards.")
    s.add_argument("--json", action="store_true", help="print the full cards as JSON")
    s.set_defaults(func=cmd_styles)

    s = sub.add_parser(
        "install", help="install a weights file as a named style", description="Copy weights into $STYLENET_HOME."
    )
    s.add_argument("weights", help="an exported .safetensors weights file")
    s.add_argument("--name", help="style name (default: the style named in the file's card)")
    s.add_argument("--overwrite", action="store_true", help="replace an installed style of that name")
    s.set_defaults(func=cmd_install)

    s = sub.add_parser(
        "export",
        help="export weights to ONNX, or a checkpoint to weights",
        description="Export a style to ONNX (dynamic height and width), or a Lightning .ckpt to a weights file.",
    )
    s.add_argument(
        "weights", help="style name, weights file, a mix (mosaic:0.7,udnie:0.3), or .ckpt (with --format safetensors)"
    )
    s.add_argument("--network", help="the multi-style network that the style names select from")
    s.add_argument("--vgg", help="an AdaIN decoder's VGG weights, if not where its file's header says")
    s.add_argument("--format", choices=["onnx", "safetensors"], default="onnx", help="default: onnx")
    s.add_argument("-o", "--output", help="output file")
    s.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser(
        "optimize",
        help="optimization-based style transfer (Gatys et al.)",
        description="Optimize one image's pixels to the content of a photo and the style of a painting.",
    )
    s.add_argument("content", help="the photo")
    s.add_argument("--style-image", required=True, help="the painting")
    s.add_argument("-o", "--output", help="output file (default: CONTENT_optimized.png beside it)")
    s.add_argument("--steps", type=int, default=300, help="iterations (default 300)")
    s.add_argument("--method", choices=["lbfgs", "adam"], default="lbfgs", help="default: lbfgs")
    s.add_argument("--size", type=int, default=256, help="longer side of the result (default 256)")
    s.add_argument("--style-size", type=int, help="longer side of the style image (default: --size)")
    s.add_argument("--content-weight", type=float, default=DEFAULT_CONTENT_WEIGHT, help="default: as in training")
    s.add_argument("--style-weight", type=float, default=DEFAULT_STYLE_WEIGHT, help="default: as in training")
    s.add_argument("--tv-weight", type=float, default=DEFAULT_TV_WEIGHT, help="default: as in training")
    s.add_argument("--vgg", help="VGG weights: a file, or IMAGENET1K_FEATURES (default: $STYLENET_VGG or that)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    add_precision(s, "the VGG passes' precision")
    s.set_defaults(func=cmd_optimize)

    s = sub.add_parser(
        "evaluate",
        help="measure losses, PSNR, SSIM and speed on photos",
        description="Evaluate trained styles and/or optimization on a folder of photos (table and JSON).",
    )
    s.add_argument(
        "--style", action="append", required=True, help="style name, weights file, or optimize:STEPS; repeatable"
    )
    s.add_argument("--network", help="the multi-style network that style names and mixes select from")
    s.add_argument("--photos", help="folder of photos, or a .txt file of paths")
    s.add_argument(
        "--reference",
        action="append",
        help="rows of an earlier --json report of the same photos and settings (e.g. an optimize:100 run); repeatable",
    )
    s.add_argument("--video", help="a clip: temporal warping error and losses, per-frame against stable")
    s.add_argument("--max-frames", type=int, help="--video: at most this many frames")
    s.add_argument("--max-side", type=int, help="--video: scale frames' longer side down to this")
    s.add_argument("--stability", type=float, action="append", help="--video: a stable row's momentum (repeatable)")
    s.add_argument("--denoise", type=float, action="append", help="--video: a stable row's denoise (repeatable)")
    s.add_argument("--blend", type=float, action="append", help="--video: a stable row's blend (repeatable)")
    s.add_argument(
        "--flow",
        choices=FLOWS,
        default="dis",
        help="--video: optical flow of the warping error (dis: the one denoise/blend follow; farneback: a check)",
    )
    s.add_argument("--holdout", type=int, help="use the folder's training hold-out set of this size")
    s.add_argument("--limit", type=int, help="at most this many photos")
    s.add_argument("--size", type=int, help="photo size (default: the style's training crop, else 256)")
    s.add_argument("--style-image", help="the painting (default: the card's image, from --styles-dir)")
    s.add_argument("--styles-dir", default="data/styles", help="where style images are (default data/styles)")
    s.add_argument("--style-size", type=int, help="style image size (default: as trained)")
    for term in ("content", "style", "tv"):
        s.add_argument(
            f"--{term}-weight",
            type=float,
            help="the loss weight optimize:N rows use (default: the first style's card; pin it to compare recipes)",
        )
    s.add_argument("--vgg", help="VGG weights (default: $STYLENET_VGG or IMAGENET1K_FEATURES)")
    s.add_argument("--device", default="cpu")
    add_precision(s, "the networks' precision (optimize:N rows always run in fp32)")
    s.add_argument("--json", help="also write per-image results to this JSON file")
    s.add_argument("--per-image", action="store_true", help="print every photo's row")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser(
        "train",
        help="train a style (Hydra overrides; needs the [train] extra)",
        description="Train a style network: stylenet train style=mosaic [group=option ...] [key=value ...]; "
        "-m sweeps. The same app as scripts/train.py; the configs ship inside the package.",
        add_help=False,
    )
    s.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides (--help: Hydra's help)")
    s.set_defaults(func=cmd_train)

    from .bench import add_arguments

    s = sub.add_parser(
        "bench",
        help="measure inference or training speed",
        description="Time stylenet's paths against an eager fp32 baseline in the same run (medians).",
    )
    add_arguments(s)
    s.set_defaults(func=cmd_bench)

    from .web.cli import add_commands  # serve, export-web (the web stack is imported only when they run)

    add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:  # every argument is Hydra's, --help and -m included (argparse would take them)
        args = argparse.Namespace(func=cmd_train, overrides=argv[1:])
    else:
        parser = build_parser()
        args = parser.parse_args(argv)  # usage errors exit 2
        if args.func in (cmd_stylize, cmd_video) and bool(args.style) == bool(args.style_image):
            parser.exit(2, f"{parser.prog} {args.command}: error: {_STYLE_CHOICE[bool(args.style)]}\n")
    try:
        with report_errors():
            try:
                return args.func(args)
            except FileExistsError as e:
                raise StylenetError(str(e)) from None
    except SystemExit as e:
        return int(e.code or 0)
    except Exception:
        traceback.print_exc()
        _err("internal error (the traceback above); please report it")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
