"""A registry entry's weights file, local or downloaded, checked against the SHA-256 the registry holds."""

from __future__ import annotations

from pathlib import Path

from ..io.download import download, sha256_file
from ..io.weights import WeightsError
from .registry import Style, lookup


def verified_path(style: Style) -> Path:
    """The local weights file of an entry, downloaded if needed and checked against its SHA-256."""
    path = style.local_path()
    if not path.is_file():
        if not style.url:
            raise WeightsError(f"style {style.name!r}: its weights file {path} is missing; reinstall it")
        download(style.url, path, style.sha256)
    digest = sha256_file(path)
    if digest != style.sha256:
        raise WeightsError(
            f"style {style.name!r}: {path} has SHA-256 {digest[:16]}..., the registry expects {style.sha256[:16]}... "
            "(corrupted or tampered); delete the file to download or reinstall it"
        )
    return path


def resolve(name: str) -> Path:
    """The verified local weights file of a named style (downloading it if needed)."""
    return verified_path(lookup(name))
