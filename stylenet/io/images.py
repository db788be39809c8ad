"""Image IO: every file and array kind in, float tensors in [0, 1] out, and back.

One pixel convention for the whole library: ``(3, H, W)`` or ``(B, 3, H, W)``
float tensors in [0, 1], RGB. Alpha travels beside the colour, never through a
network. Everything a camera or an editor produces is read: EXIF orientation,
grayscale, palette, CMYK, 16-bit and alpha. Bad files raise ``ImageError`` with
one line naming the file and the problem.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..defaults import MIN_SIDE  # smaller images are refused (there is nothing to stylize)
from ..errors import StylenetError
from .files import atomic_write, check_input_file

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")  # GIF: the first frame


class ImageError(StylenetError):
    """An image that cannot be used; the message names the file and the problem."""


def open_image(path: str | os.PathLike, min_side: int = MIN_SIDE) -> Image.Image:
    """Open and fully decode an image file, upright (EXIF orientation applied)."""
    path = Path(path)
    check_input_file(path, "an image", ImageError)
    return decode_image(path, path, min_side)


def decode_image(source, name: object, min_side: int = MIN_SIDE) -> Image.Image:
    """``open_image``'s checks on a path or a binary file object (an upload); errors name ``name``."""
    path = name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(source)
            img.load()
            img = ImageOps.exif_transpose(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"{path}: refused as a possible decompression bomb ({e})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read") from None
    except OSError as e:  # truncated or corrupt data
        raise ImageError(f"{path}: corrupt or truncated image ({e})") from None
    except Exception as e:  # malformed headers surface as many exception types
        raise ImageError(f"{path}: unreadable image ({e.__class__.__name__}: {e})") from None
    check_size(img.width, img.height, path, min_side)
    return img


def check_size(width: int, height: int, name: object = "image", min_side: int = MIN_SIDE) -> None:
    if min(width, height) < min_side:
        raise ImageError(f"{name}: image is {width}x{height}; at least {min_side}x{min_side} pixels are needed")


def check_float_tensor(t) -> None:
    """The one pixel convention for tensors: floats in [0, 1] (a uint8 tensor would be clamped to almost white)."""
    if not t.is_floating_point():
        raise ImageError(f"tensor of dtype {t.dtype}: expected a float tensor in [0, 1] (for 0-255 pixels: t / 255)")


def split_alpha(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """PIL image of any mode -> (H, W, 3) float32 RGB in [0, 1] and (H, W) alpha or None."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):  # 16/32-bit grayscale
        a = np.asarray(img, dtype=np.float32)
        peak = a.max(initial=0)
        scale = 1.0 if mode == "F" and peak <= 1 else 65535.0 if mode.startswith("I;16") or peak > 255 else 255.0
        g = np.clip(a / scale, 0.0, 1.0)
        return np.repeat(g[..., None], 3, axis=2), None
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("LA", "PA", "La", "RGBa"):
        img = img.convert("RGBA")
    has_alpha = img.mode == "RGBA"
    if has_alpha:
        arr = np.asarray(img, dtype=np.float32)
        arr /= 255.0
        return arr[..., :3].copy(), arr[..., 3].copy()
    if img.mode != "RGB":  # L, 1, CMYK, YCbCr, LAB, HSV
        img = img.convert("RGB")
    arr = np.asarray(img, dtype=np.float32)  # a new array: divided in place (large images)
    arr /= 255.0
    return arr, None


def array_to_float(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """NumPy image (H, W), (H, W, 1|3|4), uint8/uint16/float -> float RGB and alpha."""
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ImageError(f"array of shape {arr.shape}: expected (H, W), (H, W, 3) or (H, W, 4)")
    if arr.dtype == np.uint8:
        f = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        f = arr.astype(np.float32) / 65535.0
    elif np.issubdtype(arr.dtype, np.floating):
        f = np.clip(arr.astype(np.float32), 0.0, 1.0)
    else:
        raise ImageError(f"array of dtype {arr.dtype}: expected uint8, uint16 or float in [0, 1]")
    check_size(f.shape[1], f.shape[0], f"array of shape {arr.shape}")
    alpha = f[..., 3].copy() if f.shape[2] == 4 else None
    rgb = np.repeat(f, 3, axis=2) if f.shape[2] == 1 else f[..., :3]
    return np.ascontiguousarray(rgb), alpha


def float_to_array(rgb: np.ndarray, alpha: np.ndarray | None, dtype: np.dtype) -> np.ndarray:
    """Inverse of ``array_to_float`` for output: float RGB (+alpha) -> array of ``dtype``."""
    f = rgb if alpha is None else np.concatenate([rgb, alpha[..., None]], axis=2)
    if dtype == np.uint8:
        return to_uint8(f)
    if dtype == np.uint16:
        return (np.clip(f, 0, 1) * 65535.0 + 0.5).astype(np.uint16)
    return f.astype(dtype)


def to_uint8(f: np.ndarray) -> np.ndarray:
    """Float [0, 1] -> uint8, rounding; one float temporary however large the image."""
    g = np.clip(f, 0.0, 1.0)
    g *= 255.0
    g += 0.5
    return g.astype(np.uint8)


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float array -> (3, H, W) tensor (a copy: callers' arrays are never touched)."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float()


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """(H, W, 3) float RGB in [0, 1] and optional (H, W) alpha -> 8-bit PIL image."""
    if alpha is None:
        return Image.fromarray(to_uint8(rgb), "RGB")
    return Image.fromarray(to_uint8(np.concatenate([rgb, alpha[..., None]], axis=2)), "RGBA")


def resize_to(img: Image.Image, size: int | None) -> Image.Image:
    """Resize so that the longer side is ``size`` (no-op for None)."""
    if size is None or max(img.size) == size:
        return img
    scale = size / max(img.size)
    new = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(new, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)


def load_image(path: str | os.PathLike, size: int | None = None) -> torch.Tensor:
    """A file as a ``(1, 3, H, W)`` tensor in [0, 1], longer side resized to ``size``."""
    rgb, _ = split_alpha(resize_to(open_image(path), size))
    return to_tensor(rgb).unsqueeze(0)


def save_image(img: Image.Image, path: str | os.PathLike, overwrite: bool = False, quality: int = 95) -> Path:
    """Write atomically (temporary file, then rename); refuse to replace a file unless asked."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: unknown image extension {path.suffix!r}; use .jpg or .png")
    if fmt in ("JPEG", "BMP") and img.mode == "RGBA":
        img = img.convert("RGB")  # these formats hold no alpha
    with atomic_write(path, overwrite) as tmp:
        img.save(tmp, format=fmt, **({"quality": quality} if fmt in ("JPEG", "WEBP") else {}))
    return path


def list_images(root: str | os.PathLike) -> list[Path]:
    """Image files under ``root`` (recursively), sorted."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
