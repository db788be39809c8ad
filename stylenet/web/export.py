"""``stylenet export-web DIR``: a static page that stylizes in the browser.

The folder holds the page (the same files ``stylenet serve`` shows), ``config.json`` (the
styles, their networks and the size limit), ``thumbs/`` (a thumbnail per style), ``models/``
(ONNX networks from ``stylenet.infer.onnx``: one multi-style network for styles of one
network, so that they mix in the browser, else one file per style) and ``ort/``
(onnxruntime-web from the npm registry, fetched with ``npm pack`` at export time: its
WebAssembly build, and its WebGPU build for browsers that have WebGPU). Any static host serves it;
the photo never leaves the computer.

Exported networks and the npm package are kept in ``$STYLENET_HOME`` (``onnx/``, ``npm/``),
so a second export of the same styles takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import StylenetError
from ..io.files import atomic_write

ORT_WEB_VERSION = "1.30.0"
# the package's files the page needs, nothing else of its 130 MB: the WebAssembly build (SIMD and
# threads; 14 MB, which the worker loads in browsers without WebGPU: it starts twice as fast as
# the other) and the JSEP build (WebAssembly and WebGPU; 28 MB, loaded where WebGPU is available)
ORT_FILES = {
    "package/dist/ort.wasm.min.js": "ort.wasm.min.js",
    "package/dist/ort-wasm-simd-threaded.mjs": "ort-wasm-simd-threaded.mjs",
    "package/dist/ort-wasm-simd-threaded.wasm": "ort-wasm-simd-threaded.wasm",
    "package/dist/ort.min.js": "ort.min.js",
    "package/dist/ort-wasm-simd-threaded.jsep.mjs": "ort-wasm-simd-threaded.jsep.mjs",
    "package/dist/ort-wasm-simd-threaded.jsep.wasm": "ort-wasm-simd-threaded.jsep.wasm",
    "package/package.json": "package.json",  # its name, version and licence (MIT; the .js files say so too)
}
PAGE_FILES = ("index.html", "app.js", "app.css", "worker.js")
OWN = (*PAGE_FILES, "config.json", "README.txt", "thumbs", "models", "ort")
OPSET = 18


def _cache(kind: str) -> Path:
    from ..styles.registry import cache_dir

    return cache_dir().parent / kind


def fetch_ort_web(version: str = ORT_WEB_VERSION) -> Path:
    """The onnxruntime-web package file (``npm pack``, which checks the registry's integrity digest), cached."""
    cached = _cache("npm") / f"onnxruntime-web-{version}.tgz"
    if cached.is_file():
        return cached
    npm = shutil.which("npm")
    if npm is None:
        raise StylenetError(
            "export-web takes onnxruntime-web from the npm registry with npm, which is not installed; install "
            f"Node.js, or pass --ort-web FILE (made by `npm pack onnxruntime-web@{version}` elsewhere)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(
            [npm, "pack", f"onnxruntime-web@{version}", "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        packed = list(Path(tmp).glob("*.tgz"))
        if r.returncode or not packed:
            last = (r.stderr.strip().splitlines() or ["no package file"])[-1]
            raise StylenetError(f"npm pack onnxruntime-web@{version} failed ({last}); or pass --ort-web FILE")
        with atomic_write(cached, overwrite=True) as part:
            shutil.copyfile(packed[0], part)
    return cached


def extract_ort_web(package: str | Path, dest: Path) -> str:
    """Copy ``ORT_FILES`` out of the package file into ``dest``; returns the package's version."""
    dest.mkdir(parents=True, exist_ok=True)
    found = set()
    try:
        with tarfile.open(package, "r|gz") as tar:  # one pass over the stream: the names are chosen here, not read
            for info in tar:
                name = ORT_FILES.get(info.name)
                if name and info.isfile():
                    with tar.extractfile(info) as src, open(dest / name, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                    found.add(info.name)
        version = json.loads((dest / "package.json").read_text())["version"]
    except (OSError, KeyError, tarfile.TarError, ValueError) as e:
        raise StylenetError(f"{package}: not an onnxruntime-web package file ({e})") from None
    missing = sorted(set(ORT_FILES) - found)
    if missing:
        raise StylenetError(
            f"{package}: not an onnxruntime-web package file with the WASM runtime ({missing[0]} is missing)"
        )
    return version


def _onnx(net, key: str, dest: Path) -> None:
    """``export_onnx(net)`` into ``dest``, from the cache when the same weights were exported before."""
    import torch

    from ..infer import controls as color
    from ..infer import onnx as onnx_export
    from ..infer.onnx import export_onnx
    from ..model import transformer

    code = "".join(Path(m.__file__).read_text() for m in (onnx_export, transformer, color))  # what the graph is made of
    digest = hashlib.sha256(f"{key}|{OPSET}|{torch.__version__}|{code}".encode()).hexdigest()[:32]
    cached = _cache("onnx") / f"{digest}.onnx"
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(net, cached, opset=OPSET)
    shutil.copyfile(cached, dest)


def _prepare_folder(folder: Path, overwrite: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise StylenetError(f"{folder}: is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise StylenetError(f"{folder}: holds files already; pass --overwrite to replace the page's files in it")
        for name in OWN:
            p = folder / name
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()
    folder.mkdir(parents=True, exist_ok=True)


def export_web(
    folder: str | Path,
    styles: list[str] | None = None,
    max_pixels: int = 2_000_000,
    ort_web: str | Path | None = None,
    overwrite: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> Path:
    """Write the static page into ``folder`` (see the module's doc); returns the folder."""
    from .jobs import Engine

    folder = Path(folder)
    if max_pixels < 256:
        raise StylenetError(f"--max-megapixels {max_pixels / 1e6:g}: too small to stylize anything")
    engine = Engine(styles)  # checks the names before anything is written
    if ort_web is not None and not Path(ort_web).is_file():
        raise StylenetError(f"--ort-web {ort_web}: no such file")
    created = not folder.exists()
    _prepare_folder(folder, overwrite)
    try:
        _write(folder, engine, max_pixels, ort_web, progress)
    except BaseException:
        if created:  # nothing half-written is left behind in a folder this call made
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _write(folder: Path, engine, max_pixels: int, ort_web, progress: Callable[[str], None]) -> None:
    from ..io.download import sha256_file
    from ..styles.fetch import resolve
    from ..styles.registry import available_styles
    from .server import asset

    progress("onnxruntime-web: " + ("from " + str(ort_web) if ort_web else f"{ORT_WEB_VERSION} from the npm registry"))
    ort_version = extract_ort_web(ort_web or fetch_ort_web(), folder / "ort")

    entries = available_styles()
    groups: dict[str, list[str]] = {}
    for s in engine.styles.values():
        groups.setdefault(s.group or s.name, []).append(s.name)
    (folder / "models").mkdir()
    listed = []
    for group, names in groups.items():
        if len(names) > 1:  # styles of one multi-style network: that network, so that they mix
            net, file = engine.group(group), f"models/{group}.onnx"  # the thumbnails use it too
            key = f"{sha256_file(resolve(group))}|all"
        else:
            net, file = engine.network(names[0]), f"models/{names[0]}.onnx"
            key = f"{entries[names[0]].sha256}|{entries[names[0]].row or ''}"
        progress(f"ONNX: {file} ({', '.join(names)})")
        _onnx(net, key, folder / file)
        for name in names:
            index = net.style_names.index(name) if net.num_styles else None
            s = engine.styles[name]
            listed.append({"name": name, "title": s.title, "model": file, "index": index, "styles": net.num_styles})
            listed[-1]["thumb"] = f"thumbs/{name}.jpg"
    progress("thumbnails")
    engine.make_thumbnails()
    (folder / "thumbs").mkdir()
    for name, data in engine.thumbs.items():
        (folder / "thumbs" / f"{name}.jpg").write_bytes(data)
    for name in PAGE_FILES:
        (folder / name).write_bytes(asset(name))
    config = {
        "engine": "browser",
        "styles": sorted(listed, key=lambda s: s["name"]),
        "limits": {"max_pixels": max_pixels},
        "ort": {"version": ort_version, "path": "ort/"},
        "painting": {
            "available": False,
            "message": "this page stylizes with its own styles only; a painting as the style needs "
            "`stylenet serve` with an AdaIN network installed",
        },
    }
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    (folder / "README.txt").write_text(README.format(version=ort_version))


README = """A static page made by `stylenet export-web`: it stylizes photos in the browser; they never leave the computer.

Serve this folder with any static web server (a page opened as a file cannot load its networks):
    stylenet serve --static THIS_FOLDER        (also sends the headers below)
    python -m http.server -d THIS_FOLDER       (works; one processor thread)
Servers that send "Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp"
let the page use several threads. ort/ holds onnxruntime-web {version} (MIT licence: ort/package.json, the head of each ort/*.min.js).
"""
