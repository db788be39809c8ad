#!/usr/bin/env python
"""Stage what scripts/gpu_train.sh needs on the device machine into one folder that travels.

The device tool sends the checkout of the session (64 MiB at most, tracked and untracked files
that git does not ignore, plus the paths named in ``carry``); ``../shared`` stays behind and
the machine has no registry. This writes ``<repo>/.gpu/`` (ignored by .gitignore, else added to
.git/info/exclude, so it travels only when ``carry`` names it):

  vgg/vgg16_features_hed.pth  the shared VGG16 cut after relu4_3 (the deepest layer the loss uses),
                              in bfloat16: training on the GPU runs the VGG in bf16 anyway
                              (bf16-mixed casts it), so its values there are the same; 15 MB, not 57
  styles/                     the ten classic style images (--recipe predictor: all of data/styles'), byte
                              for byte (the cards check their SHA-256)
  paintings/                  --recipe predictor: data/paintings (its training and held-out paintings, same
                              names): those with a shorter side over --painting-size scaled down to it
                              and stored as JPEG (the predictor's 256 px recipe reads them at 192-320 px;
                              a .png name may hold JPEG bytes), the rest byte for byte
  photos/, photos_more/       ../shared's photos (photos_more: --recipe classic, or --more) resized as
                              training resizes them (shorter side to --size, the same PIL calls as
                              stylenet.io.photos.load_photo) and saved as JPEG (--quality) under the same names, so data/photos' held-out split is
                              the same; training at --size px then crops them exactly as the originals
  site/                       hydra, omegaconf and antlr4 (pure Python) from this environment: the
                              device's image has torch, Lightning and TensorBoard but no Hydra
  src/                        only with --src: this tree's stylenet/, scripts/ and pyproject.toml, for a
                              device call from another checkout than this one (by default the run uses
                              the travelling checkout's own code: this tree, 8 MiB less to send)

  python scripts/gpu_stage.py [--recipe predictor]   # into ./.gpu from ../shared
  python scripts/gpu_stage.py --into /repo/.gpu      # into another checkout (the one the device sends)

It prints the sizes and an estimate of the whole transfer against the 64 MiB limit.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from stylenet.cli.common import positive_int

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MIB = 64
VGG_LAST = 21  # features.21 is conv4_3 (relu4_3 is 22): the deepest layer of the default loss


MARK = ".gpu_stage"  # in every folder this script staged: only those are ever cleared or replaced


def _quality(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 95:
        raise argparse.ArgumentTypeError(f"{text}: use a JPEG quality from 1 to 95")
    return int(text)


def classic_styles() -> list[str]:
    text = (ROOT / "stylenet" / "configs" / "styles" / "classic.yaml").read_text()
    return re.findall(r"/style@styles\.members\.(\w+):", text)


def shrink(args: tuple[Path, Path, int, int]) -> int:
    """One photo as ``load_photo`` resizes it (before its crop), saved under the same name; a negative
    ``size``: a painting, scaled down to a shorter side of ``-size`` only if it is larger (then JPEG-encoded
    whatever its name says: PIL reads a file by its content), else copied."""
    from PIL import Image

    src, dst, size, quality = args
    if dst.is_file():
        return dst.stat().st_size
    with Image.open(src) as img:
        if size < 0 and min(img.size) <= -size:
            data = src.read_bytes()
            _write(dst, data)
            return len(data)
        painting, size = size < 0, abs(size)
        img.draft("RGB", (size, size))
        img = img.convert("RGB")
    scale = size / min(img.size)
    w, h = max(size, round(img.width * scale)), max(size, round(img.height * scale))
    img = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=3.0)
    buf = io.BytesIO()
    fmt = "PNG" if dst.suffix.lower() == ".png" and not painting else "JPEG"
    img.save(buf, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    _write(dst, buf.getvalue())
    return len(buf.getvalue())


def _write(dst: Path, data: bytes) -> None:
    """Whole or not at all (a stopped staging run leaves no truncated image, which a later run would keep)."""
    tmp = dst.with_name(f".{dst.name}.part")
    tmp.write_bytes(data)
    tmp.replace(dst)


def stage_photos(src: Path, dst: Path, size: int, quality: int, workers: int) -> int:
    """Every image under ``src`` through ``shrink`` (``size`` < 0: paintings), in ``workers`` processes; what an
    earlier call staged at the same settings is kept (``dst/.staged`` records them)."""
    from stylenet.io.images import list_images

    marker = dst / ".staged"
    if dst.is_dir() and (not marker.is_file() or marker.read_text() != f"{size} {quality}"):
        shutil.rmtree(dst)  # staged at other settings: again
    dst.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{size} {quality}")

    jobs = []
    for f in list_images(src):
        out = dst / f.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        jobs.append((f, out, size, quality))
    with ProcessPoolExecutor(workers) as pool:
        sum(pool.map(shrink, jobs, chunksize=16))
    return len(jobs)


def stage_vgg(src: Path, dst: Path) -> None:
    import torch

    if dst.is_file():
        return
    sd = torch.load(src, map_location="cpu", weights_only=True)
    keep = {}
    for k, v in sd.items():
        m = re.fullmatch(r"features\.(\d+)\.(weight|bias)", k)
        if m and int(m.group(1)) <= VGG_LAST:
            keep[k] = v.to(torch.bfloat16).contiguous()
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(keep, dst)


def copy_tree(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def exclude(repo: Path, into: Path) -> None:
    """Unless git ignores ``into`` already (this repository's .gitignore has ``/.gpu/``), add it to
    the repository's info/exclude, so that it travels only when ``carry`` names it."""
    ignored = subprocess.run(["git", "-C", str(repo), "check-ignore", "-q", str(into)], stderr=subprocess.DEVNULL)
    if ignored.returncode in (0, 128):
        return  # ignored already, or not a git checkout
    try:
        rel = into.resolve().relative_to(repo.resolve())
        path = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--git-path", "info/exclude"], capture_output=True, text=True
        ).stdout.strip()
    except (ValueError, OSError):
        return
    if not path:
        return
    path = Path(path) if Path(path).is_absolute() else repo / path
    line = f"/{rel.as_posix()}/"
    lines = path.read_text().splitlines() if path.is_file() else []
    if line not in lines:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            f.write(line + "\n")


def tree_size(repo: Path) -> int:
    """Bytes of what the device tool sends besides carried paths: tracked and untracked-not-ignored files."""
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-co", "--exclude-standard", "-z"], capture_output=True
    ).stdout
    files = [repo / p for p in out.decode().split("\0") if p]
    return sum(f.stat().st_size for f in files if f.is_file() and not f.is_symlink())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--into", type=Path, default=ROOT / ".gpu", help="the staging folder (default ./.gpu)")
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="../shared")
    p.add_argument("--size", type=positive_int, default=256, help="photos' shorter side (the recipe's crop: 256)")
    p.add_argument(
        "--recipe",
        choices=("classic", "predictor"),
        default="classic",
        help="what gpu_train.sh will run: classic (photos and photos_more, the ten styles) or predictor (photos, "
        "paintings, every style image; photos_more only with --more: the tree must stay under 64 MiB)",
    )
    p.add_argument("--quality", type=_quality, default=80, help="JPEG quality of the resized photos (1-95)")
    p.add_argument("--painting-size", type=positive_int, default=320, help="paintings' largest shorter side")
    p.add_argument("--no-more", action="store_true", help="leave data/photos_more out")
    p.add_argument("--more", action="store_true", help="stage data/photos_more for --recipe predictor too")
    p.add_argument(
        "--src", action="store_true", help="also stage this tree's code (a device call from another checkout)"
    )
    p.add_argument("--workers", type=positive_int, default=2, help="processes resizing images")
    a = p.parse_args(argv)
    into, shared = a.into.resolve(), a.shared.resolve()
    for need in ("weights/vgg16_features_hed.pth", "data/styles", "data/photos", "data/paintings", "data/photos_more"):
        if need == "data/paintings" and a.recipe != "predictor" or need == "data/photos_more" and a.no_more:
            continue
        if not (shared / need).exists():
            print(f"error: {shared} has no {need}; pass --shared /path/to/shared", file=sys.stderr)
            return 2
    if into.exists() and not into.is_dir():
        print(f"error: --into {into}: is a file; give a folder (default ./.gpu)", file=sys.stderr)
        return 2
    if into.is_dir() and any(into.iterdir()) and not (into / MARK).is_file():
        print(
            f"error: --into {into}: a folder that gpu_stage.py did not make (no {MARK}); give a new or empty one",
            file=sys.stderr,
        )
        return 2
    into.mkdir(parents=True, exist_ok=True)
    (into / MARK).write_text("staged by scripts/gpu_stage.py: its folders are replaced when it runs again\n")
    repo = into.parent
    exclude(repo, into)
    stage_vgg(shared / "weights" / "vgg16_features_hed.pth", into / "vgg" / "vgg16_features_hed.pth")
    from stylenet.io.images import list_images

    styles = list_images(shared / "data" / "styles")
    classic = {f"{name}.jpg" for name in classic_styles()}
    missing = classic - {f.name for f in styles}  # every recipe's
    if missing:
        print(f"error: {shared / 'data' / 'styles'} lacks {', '.join(sorted(missing))}", file=sys.stderr)
        return 2
    shutil.rmtree(into / "styles", ignore_errors=True)  # what this recipe trains on, nothing more (64 MiB)
    (into / "styles").mkdir()
    for f in styles:
        if a.recipe == "predictor" or f.name in classic:
            shutil.copy2(f, into / "styles" / f.name)
    k = 0
    if a.recipe == "predictor":
        k = stage_photos(shared / "data" / "paintings", into / "paintings", -a.painting_size, 90, a.workers)
    else:
        shutil.rmtree(into / "paintings", ignore_errors=True)
    n = stage_photos(shared / "data" / "photos", into / "photos", a.size, a.quality, a.workers)
    m = 0
    if a.no_more or (a.recipe == "predictor" and not a.more):
        shutil.rmtree(into / "photos_more", ignore_errors=True)
    else:
        m = stage_photos(shared / "data" / "photos_more", into / "photos_more", a.size, a.quality, a.workers)
    import antlr4
    import hydra
    import omegaconf

    for mod in (hydra, omegaconf, antlr4):
        copy_tree(Path(mod.__file__).parent, into / "site" / Path(mod.__file__).parent.name)
    if not a.src:
        shutil.rmtree(into / "src", ignore_errors=True)
    else:
        (into / "src").mkdir(exist_ok=True)
        copy_tree(ROOT / "stylenet", into / "src" / "stylenet")
        copy_tree(ROOT / "scripts", into / "src" / "scripts")
        shutil.copy2(ROOT / "pyproject.toml", into / "src" / "pyproject.toml")
    mib = 1 << 20
    for part in sorted(into.iterdir()):
        print(f"  {part.name:12s} {size_of(part) / mib:6.1f} MiB")
    staged, tree = size_of(into), tree_size(repo)
    total = (staged + tree) / mib
    print(
        f"{into}: {n} + {m} photos, {k} paintings, {staged / mib:.1f} MiB; with the checkout {repo} ({tree / mib:.1f} MiB): {total:.1f} MiB"
    )
    if total > LIMIT_MIB - 2:
        print(
            f"warning: over {LIMIT_MIB - 2} MiB; lower --quality, or --no-more; move big untracked files out of the checkout",
            file=sys.stderr,
        )
        return 1
    rel = into.relative_to(repo) if into.is_relative_to(repo) else into
    script = f"{rel}/src/scripts/gpu_train.sh" if a.src else "scripts/gpu_train.sh"
    recipe = "RECIPE=predictor " if a.recipe == "predictor" else ""
    print(f"carry=['{rel}'] and run: {recipe}bash {script} (see its header)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
