"""``stylenet stylize``: image files and folders in, stylized files out."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import StylenetError
from ..io.files import check_output
from ..io.images import IMAGE_EXTENSIONS, list_images
from . import common

NAME = "stylize"
HELP = "stylize images"
DESCRIPTION = "Stylize image files or folders of images."


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    s.add_argument(
        "-s",
        "--style",
        help="style name (see `stylenet styles`), weights file, or a mix of one network's styles: mosaic:0.7,udnie:0.3",
    )
    common.add_style_image(s)
    s.add_argument(
        "--strength",
        type=float,
        default=1.0,
        help="0 to 1 (full style; default); 0 gives the photo with --style, its reconstruction by an AdaIN "
        "decoder, and the photo in its own style by the style predictor, with --style-image",
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
    common.add_precision(s)
    s.add_argument(
        "--tile",
        type=common.tile_arg,
        help="tile side in pixels (default: tile only images over ~2.5 MP, over 1 MP for an AdaIN decoder)",
    )
    s.add_argument("--overwrite", action="store_true", help="replace existing output files")
    s.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


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
        common.err(f"{folder}: folder holds no images")
    if single_file_out and len(pairs) > 1:
        raise StylenetError(f"-o {output} names one file but there are {len(pairs)} inputs; give a folder")
    return pairs, empty


def _out_suffix(path: Path) -> Path:
    return path.with_suffix(".png") if path.suffix.lower() == ".gif" else path


def run(a: argparse.Namespace) -> int:
    from ..infer import memory
    from ..io.progress import progress_bar

    memory.keep_freed_memory()  # repeated forward passes reuse it (tiling returns it)
    from ..infer.controls import check_strength
    from ..infer.stylize import stylize
    from ..io.images import ImageError, save_image
    from ..styles.load import one_style

    paintings = common.style_choice(a)
    if paintings is None:
        check_strength(a.strength)
        net, _ = one_style(a.style, a.network, a.device)
        kwargs = {}
    else:
        from ..infer import arbitrary

        arbitrary.check_alpha(a.strength)
        net = arbitrary.prepare(arbitrary.load_decoder(a.network, a.vgg), a.device, a.precision)
        arbitrary.target_stats(net, *paintings, a.style_size)  # bad paintings fail before any photo
        kwargs = {"style_image": paintings[0], "style_weights": paintings[1], "style_size": a.style_size}
    pairs, empty_folders = _plan_outputs(a.inputs, a.output, common.output_label(a, paintings))
    failed = 0
    # a bar for batches on a terminal (None: tqdm leaves it out when stderr is a pipe or a file)
    bar = progress_bar(pairs, desc="stylizing", unit="image", disable=True if len(pairs) < 2 or a.quiet else None)
    for src, dest in bar:
        try:
            check_output(dest, a.overwrite, "--overwrite")
        except FileExistsError as e:
            common.err(f"{e} (skipped {src})")
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
            common.err(str(e))
            failed += 1
            continue
        if not a.quiet and len(pairs) < 2:
            print(f"wrote {dest}")
    if len(pairs) > 1 and not a.quiet:
        print(f"wrote {len(pairs) - failed} of {len(pairs)} images")
    return common.EXIT_BAD_INPUT if failed or empty_folders else common.EXIT_OK
