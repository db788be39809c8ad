"""The page in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``)
driven by Selenium. Skipped, with the reason, where no browser can be had.

* ``stylenet serve``'s page: pick a photo with the file input, click a style, wait for the
  result, read the displayed image and compare it with ``stylenet.stylize`` of the same photo;
  bad uploads show their message. The screenshot in the README is taken here
  (``STYLENET_WEB_SCREENSHOT=docs/images/web.png`` writes it there).
* ``stylenet export-web``'s static page (onnxruntime-web's WebAssembly build from the npm
  registry) against the exported ONNX network run by onnxruntime in Python.

Tolerances, in levels of 255: the served page must match ``stylize`` to 1 (the same function in
the same process; only the order of float sums may differ, which can move a rounded value by 1).
The static page must match onnxruntime to 1 and under 0.05 on average: its WebAssembly kernels
may sum in another order than the native ones (SIMD width, FMA). Measured on the AVX2 CPU here:
0 for both (identical images); a two-style mix at strength 0.7 with colour preservation: max 1,
mean 0.003.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import stylenet

from conftest import random_image

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")

from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from stylenet.web import server  # noqa: E402
from stylenet.web.jobs import Engine, watching_jobs  # noqa: E402
from stylenet.web.styles import sample_photo  # noqa: E402

CHROMIUM_FLAGS = [  # headless, and no connections to anything but the page (this machine has no network)
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,960",
]


def _find(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    chromium = _find("chromium", "chromium-browser", "google-chrome")
    driver_path = _find("chromedriver")
    if not chromium or not driver_path:
        pytest.skip(
            "no headless browser: install Debian's chromium and chromium-driver (make install does where apt works)"
        )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except WebDriverException as e:
        pytest.skip(f"chromium did not start: {e.msg}")
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _photo(tmp_path_factory, name: str, img: Image.Image) -> Path:
    path = tmp_path_factory.mktemp("photos") / name
    img.save(path)
    return path


def open_page(driver, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))


def pick(driver, input_id: str, path: Path) -> None:
    driver.find_element(By.ID, input_id).send_keys(str(path))


def wait_outcome(driver, before: str | None, seconds: float = 120) -> str:
    """The new result's URL, or fails with the page's message."""

    def changed(d):
        src = d.find_element(By.ID, "result").get_attribute("src") or None
        message = d.find_element(By.ID, "message").text
        return message or (src if src != before and d.find_element(By.ID, "go").is_enabled() else False)

    outcome = WebDriverWait(driver, seconds).until(changed)
    assert outcome.startswith("blob:"), f"the page says: {outcome}"
    return outcome


def wait_message(driver, seconds: float = 60) -> str:
    return WebDriverWait(driver, seconds).until(lambda d: d.find_element(By.ID, "message").text)


def shown_image(driver) -> np.ndarray:
    """The displayed result, read back from the page (the same bytes the download link gives)."""
    script = """
    const done = arguments[arguments.length - 1];
    fetch(document.getElementById("result").src).then((r) => r.arrayBuffer()).then((b) => {
      const u = new Uint8Array(b); let s = "";
      for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
      done(btoa(s));
    });"""
    data = base64.b64decode(driver.execute_async_script(script))
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.int16)


# -- stylenet serve --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served():
    engine = Engine()  # every style, and stylenet serve's default limits
    engine.make_thumbnails()
    service = server.Service(engine, max_upload=25_000_000, jobs=1, queue=8)
    with watching_jobs(), server.running(server.app(service)) as url:
        yield url


def test_served_page_stylizes_a_picked_photo_like_the_library(browser, served, tmp_path_factory):
    photo = _photo(tmp_path_factory, "landscape.png", sample_photo((200, 150)))
    open_page(browser, served)
    pick(browser, "photo", photo)
    browser.find_element(By.CSS_SELECTOR, '.style[data-name="mosaic"]').click()
    src = wait_outcome(browser, None)
    got = shown_image(browser)
    want = np.asarray(stylenet.stylize(str(photo), "mosaic"), np.int16)
    assert got.shape == want.shape and np.abs(got - want).max() <= 1
    link = browser.find_element(By.ID, "download")
    assert link.get_attribute("href") == src and link.get_attribute("download") == "landscape_mosaic.png"
    assert link.text == "Download (200×150 PNG)"
    png = browser.get_screenshot_as_png()
    assert Image.open(io.BytesIO(png)).size[0] >= 1000
    screenshot = os.environ.get("STYLENET_WEB_SCREENSHOT")  # the README's picture
    if screenshot:
        Image.open(io.BytesIO(png)).convert("RGB").quantize(128).save(screenshot, optimize=True)

    # a mix of two styles with the slider, strength and colour preservation
    browser.execute_script(
        "const set = (id, v) => { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('input')); };"
        "const s = document.getElementById('style2'); s.value = 'wave'; s.dispatchEvent(new Event('change'));"
        "set('mix', 30); set('strength', 80); document.getElementById('preserve').checked = true;"
    )
    browser.find_element(By.ID, "go").click()
    wait_outcome(browser, src)
    want = stylenet.stylize(str(photo), "mosaic:0.7,wave:0.3", strength=0.8, preserve_color=True)
    assert np.abs(shown_image(browser) - np.asarray(want, np.int16)).max() <= 1


def test_served_page_shows_one_line_for_each_bad_upload(browser, served, tmp_path_factory, no_painting_network):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "notes.txt").write_text("not a photo\n" * 20)
    good = random_image(40, 40, seed=8)
    good.save(folder / "cut.png")
    data = (folder / "cut.png").read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    (folder / "huge.jpg").write_bytes(os.urandom(26_000_000))
    good.save(folder / "painting.png")
    open_page(browser, served)
    browser.find_element(By.CSS_SELECTOR, '.style[data-name="candy"]').click()
    expected = {
        "notes.txt": "notes.txt: not an image file Pillow can read",
        "cut.png": "cut.png: corrupt or truncated image",
        "huge.jpg": "huge.jpg: 26.0 MB is more than this server takes (25.0 MB; stylenet serve --max-upload-mb)",
    }
    for name, message in expected.items():
        pick(browser, "photo", folder / name)
        assert wait_message(browser).startswith(message)
    pick(browser, "painting", folder / "painting.png")  # no AdaIN network installed: the page says so
    assert wait_message(browser) == stylenet.infer.arbitrary.MISSING_DEFAULT


# -- stylenet export-web ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The static page of one style. Its ONNX export (half a minute or more on a 2-core CPU) and the npm
    package are kept between runs in ``~/.cache/stylenet-tests`` (keyed by the weights, torch and the
    exporting code), so that only a machine's first run pays for them."""
    from stylenet.cli import main
    from stylenet.errors import StylenetError
    from stylenet.web.export import fetch_ort_web

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stylenet-tests"
    folder = tmp_path_factory.mktemp("site")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLENET_HOME", str(cache))
        try:
            fetch_ort_web()
        except (StylenetError, OSError) as e:
            pytest.skip(f"onnxruntime-web could not be had from the npm registry: {e}")
        assert main(["export-web", str(folder), "--styles", "mosaic", "--max-megapixels", "0.02", "--overwrite"]) == 0
    with server.running(server.static_app(folder)) as url:
        yield folder, url


def onnx_reference(model: Path, photo: Path) -> np.ndarray:
    import onnxruntime as ort

    x = np.asarray(Image.open(photo).convert("RGB"), np.float32).transpose(2, 0, 1)[None] / 255.0
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    feeds = {"image": x, "strength": np.array(1.0, np.float32), "preserve_color": np.array(0.0, np.float32)}
    y = session.run(None, feeds)[0][0].transpose(1, 2, 0)
    return (np.clip(y, 0, 1) * 255 + 0.5).astype(np.int16)


@pytest.mark.slow  # a machine's first run exports the ONNX network: half a minute or more on 2 cores
def test_static_page_stylizes_in_the_browser_like_the_onnx_network_and_refuses_what_it_cannot(
    browser, exported, tmp_path_factory
):
    folder, url = exported
    photo = _photo(tmp_path_factory, "street.png", random_image(75, 100, seed=9))
    open_page(browser, url)
    assert "the photo never leaves this computer" in browser.find_element(By.ID, "engine").text
    assert "up to 0.020 MP" in browser.find_element(By.ID, "limits").text
    pick(browser, "photo", photo)
    browser.find_element(By.CSS_SELECTOR, '.style[data-name="mosaic"]').click()
    src = wait_outcome(browser, None)
    got = shown_image(browser)
    want = onnx_reference(folder / "models" / "mosaic.onnx", photo)
    diff = np.abs(got - want)
    print(f"static page vs onnxruntime: max {diff.max()}, mean {diff.mean():.4f} levels of 255")
    assert got.shape == want.shape and diff.max() <= 1 and diff.mean() < 0.05, (diff.max(), diff.mean())
    assert "WebAssembly" in browser.find_element(By.ID, "result-info").text

    # what the page cannot stylize: a message, and for a photo too large an offer to scale it down
    big = _photo(tmp_path_factory, "big.png", random_image(150, 200, seed=10))
    (big.parent / "notes.txt").write_text("not a photo")
    pick(browser, "photo", big.parent / "notes.txt")
    assert wait_message(browser) == "notes.txt: not an image this browser can read"
    pick(browser, "photo", big)
    assert wait_message(browser).startswith("big.png: 200×150 is 0.030 MP; this page stylizes photos of up to 0.020 MP")
    shrink = browser.find_element(By.ID, "shrink")
    assert shrink.text == "Stylize at 163×122 instead"
    shrink.click()
    wait_outcome(browser, src)
    assert browser.find_element(By.ID, "download").text == "Download (163×122 PNG)"
