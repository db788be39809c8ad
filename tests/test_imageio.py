import io

import numpy as np
import pytest
from PIL import Image

from stylenet.io.images import (
    ImageError,
    array_to_float,
    float_to_array,
    list_images,
    load_image,
    open_image,
    save_image,
    split_alpha,
)

from conftest import random_image


def save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


def test_exif_orientation_is_applied(tmp_path):
    img = random_image(20, 40)  # 40 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    path = save(img, tmp_path / "rot.jpg", exif=exif.tobytes())
    assert open_image(path).size == (20, 40)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "RGBA", "LA", "1"])
def test_every_common_mode_becomes_float_rgb(tmp_path, mode):
    img = random_image(24, 24).convert(mode)
    ext = ".jpg" if mode == "CMYK" else ".png"
    rgb, alpha = split_alpha(open_image(save(img, tmp_path / f"x{ext}")))
    assert rgb.shape == (24, 24, 3) and rgb.dtype == np.float32 and 0 <= rgb.min() and rgb.max() <= 1
    assert (alpha is not None) == (mode in ("RGBA", "LA"))


def test_palette_with_transparency_keeps_alpha(tmp_path):
    img = Image.new("P", (20, 20), 1)
    img.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    img.paste(0, (0, 0, 10, 20))  # left half: palette entry 0, the transparent one
    rgb, alpha = split_alpha(open_image(save(img, tmp_path / "p.png", transparency=0)))
    assert alpha is not None and alpha[:, :10].max() == 0.0 and alpha[:, 10:].min() == 1.0


def test_16_bit_grayscale_uses_the_full_range(tmp_path):
    arr = np.linspace(0, 65535, 20 * 20).reshape(20, 20).astype(np.uint16)
    rgb, _ = split_alpha(open_image(save(Image.fromarray(arr), tmp_path / "g16.png")))
    assert rgb.max() == pytest.approx(1.0) and rgb.min() == 0.0
    # every pixel, every channel: data / 65535
    np.testing.assert_allclose(rgb, np.repeat(arr[..., None] / 65535, 3, axis=2), rtol=0, atol=1e-7)
    # a dark 16-bit image (every value below 256) is still 16-bit data: / 65535, not / 255
    dark = (np.arange(20 * 20).reshape(20, 20) // 2).astype(np.uint16)
    rgb, _ = split_alpha(open_image(save(Image.fromarray(dark), tmp_path / "d16.png")))
    np.testing.assert_allclose(rgb, np.repeat(dark[..., None] / 65535, 3, axis=2), rtol=0, atol=1e-7)


def test_8_and_16_bit_arrays_read_as_data_over_their_peak_and_round_trip_exactly():
    g16 = np.arange(65536, dtype=np.uint16).reshape(256, 256)  # every 16-bit value once
    rgb, alpha = array_to_float(g16)
    assert alpha is None
    np.testing.assert_allclose(rgb, np.repeat(g16[..., None] / 65535, 3, axis=2), rtol=0, atol=1e-7)
    assert np.array_equal(float_to_array(rgb, None, np.uint16), np.repeat(g16[..., None], 3, axis=2))
    rgba16 = np.stack([g16, g16[::-1], g16.T, 65535 - g16], axis=2)
    rgb, alpha = array_to_float(rgba16)
    np.testing.assert_allclose(rgb, rgba16[..., :3] / 65535, rtol=0, atol=1e-7)
    np.testing.assert_allclose(alpha, rgba16[..., 3] / 65535, rtol=0, atol=1e-7)
    assert np.array_equal(float_to_array(rgb, alpha, np.uint16), rgba16)
    g8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb, _ = array_to_float(g8)
    np.testing.assert_allclose(rgb[..., 1], g8 / 255, rtol=0, atol=1e-7)
    assert np.array_equal(float_to_array(rgb, None, np.uint8)[..., 2], g8)


def test_arrays_of_every_dtype_and_layout():
    for arr in (
        np.zeros((20, 20), np.uint8),
        np.full((20, 20, 3), 65535, np.uint16),
        np.random.rand(20, 20, 4).astype(np.float32),
        np.zeros((20, 20, 1), np.float64),
    ):
        rgb, alpha = array_to_float(arr)
        assert rgb.shape == (20, 20, 3) and (alpha is not None) == (arr.ndim == 3 and arr.shape[2] == 4)
        assert float_to_array(rgb, alpha, arr.dtype).dtype == arr.dtype
    with pytest.raises(ImageError, match="expected uint8, uint16 or float"):
        array_to_float(np.zeros((20, 20, 3), np.int64))
    with pytest.raises(ImageError, match=r"shape \(20, 20, 2\)"):
        array_to_float(np.zeros((20, 20, 2), np.uint8))


def test_load_image_resizes_the_longer_side(tmp_path):
    t = load_image(save(random_image(30, 60), tmp_path / "a.png"), size=40)
    assert t.shape == (1, 3, 20, 40)


@pytest.mark.parametrize(
    "make,problem",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("hello, I am text"), "not an image file"),
        (lambda p: p.write_bytes(_jpeg_bytes()[:300]), "corrupt or truncated"),
        (lambda p: save(Image.new("RGB", (1, 1)), p), "image is 1x1; at least 16x16"),
    ],
)
def test_bad_files_are_one_line_errors_naming_the_file(tmp_path, make, problem):
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(ImageError, match=problem) as e:
        open_image(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_decompression_bombs_are_refused(tmp_path, monkeypatch):
    path = save(random_image(100, 100), tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)  # 10,000 pixels: over the limit
    with pytest.raises(ImageError, match="decompression bomb"):
        open_image(path)


def _jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    random_image(64, 64).save(buf, "JPEG")
    return buf.getvalue()


def test_save_is_atomic_and_never_overwrites_unless_asked(tmp_path):
    path = tmp_path / "out" / "a.png"
    save_image(random_image(20, 20), path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="--overwrite"):
        save_image(random_image(20, 20, seed=1), path)
    assert path.read_bytes() == before
    save_image(random_image(20, 20, seed=1), path, overwrite=True)
    assert path.read_bytes() != before
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.png"]  # no temporary files left


def test_jpeg_output_drops_alpha(tmp_path):
    img = random_image(20, 20).convert("RGBA")
    assert Image.open(save_image(img, tmp_path / "a.jpg")).mode == "RGB"


def test_list_images_recurses_and_filters(tmp_path, photo_dir):
    (photo_dir / "notes.txt").write_text("x")
    files = list_images(photo_dir)
    assert len(files) == 12 and files == sorted(files)


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = save_image(random_image(20, 20), tmp_path / "p.png")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
