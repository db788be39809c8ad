"""Downloads with a progress bar, SHA-256 verification and atomic placement.

Used for registry weights, style images and datasets. A file is only ever moved
into place after its digest matched; a failed or mismatched download leaves
nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from ..errors import StylenetError
from .files import atomic_write
from .progress import progress_bar

CHUNK = 1 << 20


class DownloadError(StylenetError):
    """A download failed or its content did not match the expected SHA-256."""


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def download(
    url: str, dest: str | os.PathLike, sha256: str | None = None, progress: bool = True, timeout: float = 60
) -> Path:
    """Fetch ``url`` to ``dest`` (atomically), verifying ``sha256`` when given."""
    dest = Path(dest)
    h = hashlib.sha256()
    with atomic_write(dest, overwrite=True) as tmp, open(tmp, "wb") as out:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                total = int(r.headers.get("Content-Length") or 0) or None
                with progress_bar(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                    for block in iter(lambda: r.read(CHUNK), b""):
                        out.write(block)
                        h.update(block)
                        bar.update(len(block))
        except OSError as e:  # URLError, HTTPError, timeouts, connection resets
            raise DownloadError(f"could not download {url}: {getattr(e, 'reason', e)}") from None
        if sha256 and h.hexdigest() != sha256.lower():
            raise DownloadError(f"{url}: SHA-256 mismatch: expected {sha256}, got {h.hexdigest()}; file discarded")
    return dest


COCO_TRAIN2014 = "http://images.cocodataset.org/zips/train2014.zip"  # 13 GB, 82,783 JPEGs


def fetch_coco(dest: str | os.PathLike = "data/coco", url: str = COCO_TRAIN2014, keep_zip: bool = False) -> Path:
    """Download COCO train2014 and unpack it to ``dest/train2014``; returns that folder.

    Resumable in the simple sense: an existing zip of the right size is not fetched again.
    """
    import zipfile

    dest = Path(dest)
    archive = dest / Path(url).name
    if not archive.is_file():
        download(url, archive)
    try:
        with zipfile.ZipFile(archive) as z:
            members = [m for m in z.infolist() if not m.is_dir()]
            for m in progress_bar(members, desc="unpacking", unit="file"):
                target = (dest / m.filename).resolve()
                if dest.resolve() not in target.parents:
                    raise DownloadError(f"{archive}: refusing to unpack {m.filename!r} outside {dest}")
                if not target.exists():
                    z.extract(m, dest)
    except zipfile.BadZipFile as e:
        raise DownloadError(f"{archive}: not a valid zip ({e}); delete it and run again") from None
    if not keep_zip:
        archive.unlink()
    return dest / Path(url).stem


def fetch_style_images(config_dir: str | os.PathLike, dest: str | os.PathLike) -> list[Path]:
    """Fetch every style image named in ``config_dir/style/*.yaml`` (url + sha256) into ``dest``."""
    from omegaconf import OmegaConf

    got = []
    for cfg_file in sorted(Path(config_dir, "style").glob("*.yaml")):
        cfg = OmegaConf.load(cfg_file)
        if not cfg.get("url"):
            continue
        target = Path(dest) / f"{cfg_file.stem}{Path(cfg.url).suffix}"
        if target.is_file() and sha256_file(target) == cfg.sha256:
            got.append(target)
            continue
        got.append(download(cfg.url, target, cfg.sha256))
    return got
