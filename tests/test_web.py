"""``stylenet serve`` without a browser: results, bad uploads, safety, the queue, disconnects, load.

One server (in a thread of this process, two styles) serves the whole module.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import struct
import subprocess
import sys
import time
import zlib
from urllib.parse import urlencode, urlsplit

import numpy as np
import pytest
from PIL import Image

import stylenet

from conftest import ROOT, random_image

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from stylenet.web import server  # noqa: E402
from stylenet.web.jobs import Engine, Order, watching_jobs  # noqa: E402

MAX_UPLOAD = 2_000_000


@pytest.fixture(scope="module")
def service():
    engine = Engine(["mosaic", "wave"], max_pixels=1_500_000)
    engine.make_thumbnails()
    return server.Service(engine, MAX_UPLOAD, jobs=1, queue=4)


@pytest.fixture(scope="module")
def url(service):
    with watching_jobs(), server.running(server.app(service)) as base:
        yield base


def png(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


def post(url: str, body: bytes, timeout: float = 120, **params) -> tuple[int, list[dict]]:
    """POST a photo; the status and the answer's lines of JSON."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    conn.request("POST", "/api/stylize?" + urlencode({"name": "photo.png", **params}), body=body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.status != 200:
        return resp.status, [json.loads(data)]
    return 200, [json.loads(line) for line in data.splitlines() if line]


def result_image(lines: list[dict]) -> Image.Image:
    assert "error" not in lines[-1], lines[-1]
    assert lines[-1]["done"]
    return Image.open(io.BytesIO(base64.b64decode(lines[-1]["png"])))


def get(url: str, path: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def status(url: str) -> dict:
    return json.loads(get(url, "/api/status")[1])


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header claims width x height pixels: a decompression bomb's header, a few bytes long."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_the_result_is_stylenet_stylize_of_the_photo_at_full_size(url):
    photo = random_image(45, 60, seed=1)
    code, lines = post(url, png(photo), style="mosaic")
    assert code == 200
    out = result_image(lines)
    assert out.size == photo.size and lines[-1]["filename"] == "photo_mosaic.png"
    # the same function on the same process: equal but for float summation order (at most 1 level of 255)
    want = np.asarray(stylenet.stylize(photo, "mosaic"), np.int16)
    assert np.abs(np.asarray(out, np.int16) - want).max() <= 1
    # a mix of two styles, strength and colour preservation
    code, lines = post(url, png(photo), style="mosaic", style2="wave", mix=0.25, strength=0.6, preserve_color=1)
    want = stylenet.stylize(photo, "mosaic:0.75,wave:0.25", strength=0.6, preserve_color=True)
    assert np.abs(np.asarray(result_image(lines), np.int16) - np.asarray(want, np.int16)).max() <= 1


def test_sixteen_bit_cmyk_and_transparent_photos_are_stylized_alpha_kept(url):
    photo = random_image(40, 48, seed=2)
    sixteen = Image.fromarray(np.asarray(photo.convert("L"), np.uint16) * 257)  # mode I;16
    _, lines = post(url, png(sixteen), style="mosaic")
    assert result_image(lines).size == (48, 40)
    _, lines = post(url, png(photo.convert("CMYK"), format="JPEG"), style="mosaic")
    assert result_image(lines).size == (48, 40)
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(photo.size))
    _, lines = post(url, png(rgba), style="mosaic")
    out = result_image(lines)
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], np.asarray(rgba)[..., 3])


BAD = {  # name -> (body, query, status, the message's start)
    "not an image": (b"hello, not a photo\n" * 10, {"name": "notes.txt"}, 200, "notes.txt: not an image file Pillow"),
    "truncated": (None, {"name": "cut.png"}, 200, "cut.png: corrupt or truncated image"),
    "decompression bomb": (bomb_png(), {"name": "bomb.png"}, 200, "bomb.png: refused as a possible decompression bomb"),
    "empty": (b"", {"name": "empty.jpg"}, 400, "empty.jpg: empty file (0 bytes)"),
    "too small": (png(Image.new("RGB", (8, 8))), {"name": "tiny.png"}, 200, "tiny.png: image is 8x8; at least 16x16"),
    "too many pixels": (
        png(Image.new("RGB", (1500, 1100))),
        {"name": "big.png"},
        200,
        "big.png: 1500x1100 is 1.6 mega",
    ),
    "too large upload": (b"\0" * (MAX_UPLOAD + 1), {"name": "huge.jpg"}, 413, "huge.jpg is larger than 2 MB"),
    "a path as the style": (
        None,
        {"style": "../../etc/passwd"},
        400,
        "unknown style '../../etc/passwd'; available: mosaic, wave",
    ),
    "a style file path": (None, {"style": "/etc/passwd.safetensors"}, 400, "unknown style '/etc/passwd.safetensors'"),
    "strength out of range": (None, {"strength": "2"}, 400, "strength=2.0: use a value from 0 to 1"),
    "styles of no one network": (None, {"style2": "candy"}, 400, "unknown style 'candy'"),
    "an empty painting": (None, {"painting_bytes": "0", "painting_name": "x.jpg"}, 400, "x.jpg: empty file (0 bytes)"),
    "too large photo and painting": (
        b"\0" * (MAX_UPLOAD + 1),
        {"name": "p.jpg", "painting_bytes": "3000", "painting_name": "art.jpg"},
        413,
        "p.jpg with the painting art.jpg is larger than 2 MB",
    ),
    "a painting, no arbitrary-style network": (
        None,
        {"painting_bytes": "10"},
        400,
        "no AdaIN decoder or style predictor is installed",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_upload_is_one_line_and_the_server_keeps_running(url, case, no_painting_network):
    body, query, code, message = BAD[case]
    good = png(random_image(32, 32, seed=3))
    if body is None:
        body = good[: len(good) // 2] if case == "truncated" else good
    got, lines = post(url, body, **{"style": "mosaic", **query})
    assert got == code and len(lines) <= 2, lines
    assert lines[-1]["error"].startswith(message), lines[-1]
    assert "\n" not in lines[-1]["error"]
    assert "done" in post(url, good, style="mosaic")[1][-1]  # still serving


def test_a_dropped_painting_is_the_style_once_an_adain_network_is_installed(url, service, isolated_home, monkeypatch):
    import torch

    from stylenet.io.download import sha256_file
    from stylenet.model.adain import AdaINNet, save_adain

    torch.manual_seed(0)
    decoder = save_adain(AdaINNet(weights="random").eval(), isolated_home / "styles" / "adain.safetensors")
    (isolated_home / "styles" / "adain.json").write_text(json.dumps({"sha256": sha256_file(decoder), "card": {}}))
    photo, painting = random_image(40, 48, seed=5), random_image(64, 56, seed=6)
    assert json.loads(get(url, "/config.json")[1])["painting"]["available"]
    monkeypatch.setattr(service.engine, "style_size", 64)  # stylenet serve --style-size 64: a quicker test
    body = png(photo) + png(painting)
    _, lines = post(url, body, painting_bytes=len(png(painting)), painting_name="p.png", strength=0.8)
    want = stylenet.stylize(photo, style_image=painting, strength=0.8, style_size=64)  # the registry's "adain"
    assert np.abs(np.asarray(result_image(lines), np.int16) - np.asarray(want, np.int16)).max() <= 1
    assert lines[-1]["filename"] == "photo_painting.png"
    assert [s.name for s in Engine().styles.values()] == sorted(
        stylenet.available_styles().keys() - {"classic", "adain", "predictor"}
    )


def test_nothing_but_the_page_and_the_styles_is_served(url, no_painting_network):
    assert get(url, "/")[0] == 200 and b"stylenet" in get(url, "/")[1]
    assert get(url, "/thumbs/mosaic.jpg")[1][:2] == b"\xff\xd8"
    for path in (
        "/../pyproject.toml",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/thumbs/..%2F..%2Fetc%2Fpasswd.jpg",
        "/thumbs/candy.jpg",  # a style this server does not offer
        "/assets/app.js",
        "/app.js/../../cli.py",
        "/web/server.py",
        "/styles/index.json",
    ):
        assert get(url, path)[0] == 404, path
    config = json.loads(get(url, "/config.json")[1])
    assert [s["name"] for s in config["styles"]] == ["mosaic", "wave"]
    assert config["limits"]["max_upload_bytes"] == MAX_UPLOAD
    assert config["painting"] == {"available": False, "message": stylenet.infer.arbitrary.MISSING_DEFAULT}


def _start(url: str, body: bytes) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, dict]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request("POST", "/api/stylize?style=mosaic&name=slow.jpg", body=body)
    resp = conn.getresponse()
    return conn, resp, json.loads(resp.readline())


def _wait(url: str, check, seconds: float = 10.0) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        s = status(url)
        if check(s) or time.monotonic() > deadline:
            return s
        time.sleep(0.05)


def test_the_queue_is_bounded_and_a_client_that_goes_away_frees_its_job(url, service):
    slow = png(random_image(900, 1200, seed=4).convert("RGB"), format="JPEG", quality=90)
    before = status(url)
    service.queue = 1
    try:
        a, a_resp, first = _start(url, slow)  # runs (about a second or more on a 2-core CPU)
        while "progress" not in first:
            first = json.loads(a_resp.readline())
        b, b_resp, b_first = _start(url, slow)  # waits
        assert b_first == {"queued": 1}
        code, lines = post(url, slow, style="mosaic")  # one too many
        assert code == 503 and lines[0]["error"].startswith(
            "the server is busy: 2 photos are being stylized or waiting"
        )
        assert status(url)["running"] == 1 and status(url)["waiting"] == 1
        b.close()  # the waiting client goes: its place is freed
        s = _wait(url, lambda s: s["waiting"] == 0)
        assert s["waiting"] == 0 and s["running"] == 1
        a.close()  # the running client goes: its job stops within a layer
        s = _wait(url, lambda s: s["running"] == 0)
        assert s["running"] == 0 and s["cancelled"] == before["cancelled"] + 2 and s["done"] == before["done"]
    finally:
        service.queue = 4
    assert "done" in post(url, png(random_image(32, 32)), style="mosaic")[1][-1]


def test_load_from_a_second_process_loses_nothing(url):
    r = subprocess.run(
        [sys.executable, "scripts/web_load.py", "--url", url, "--requests", "8", "--concurrency", "4"]
        + ["--size", "64x48", "--stall", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    report = json.loads(r.stdout)
    assert r.returncode == 0, r.stderr
    assert report["done"] == 8 and report["lost"] == report["stalled"] == report["failed"] == 0, report


def test_serve_prints_a_warning_when_it_listens_beyond_this_computer(monkeypatch, capsys):
    import uvicorn

    from stylenet.cli import main

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets: None)
    assert main(["serve", "--host", "0.0.0.0", "--port", "0", "--styles", "mosaic", "-q"]) == 0
    out, err = capsys.readouterr()
    assert "serving 1 styles" in out and "http://0.0.0.0:" in out
    assert err.startswith("warning: listening on 0.0.0.0:") and "not only on this computer" in err
    assert main(["serve", "--port", "0", "--styles", "mosaic", "-q"]) == 0
    out, err = capsys.readouterr()
    assert "http://127.0.0.1:" in out and err == ""
    assert main(["serve", "--styles", "nope"]) == 2
    assert "unknown style 'nope'" in capsys.readouterr().err


def test_export_web_refuses_a_folder_that_holds_files(tmp_path, capsys):
    from stylenet.cli import main

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "mine.txt").write_text("keep")
    assert main(["export-web", str(tmp_path / "site"), "--styles", "mosaic"]) == 2
    assert "holds files already; pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "site" / "mine.txt").read_text() == "keep"
    bad = tmp_path / "not-ort.tgz"
    bad.write_bytes(b"nope")
    assert main(["export-web", str(tmp_path / "new"), "--styles", "mosaic", "--ort-web", str(bad)]) == 2
    assert "not an onnxruntime-web package file" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # a failed export leaves no folder it made
    assert main(["serve", "--static", str(tmp_path / "site")]) == 2
    assert "not a folder written by `stylenet export-web`" in capsys.readouterr().err


def test_every_mix_of_one_network_is_selected_from_one_read_of_its_file(monkeypatch):
    """The mix is a slider: each new value must not read the multi-style file again."""
    import stylenet.styles.load as load_module

    reads = []
    real = load_module.load
    monkeypatch.setattr(load_module, "load", lambda spec, **kw: reads.append(spec) or real(spec, **kw))
    engine = Engine(["mosaic", "udnie"])
    group = engine.styles["mosaic"].group
    for mix in (0.2, 0.5, 0.8):
        engine.network(Order(b"", style="mosaic", style2="udnie", mix=mix).spec(), group)
    assert reads.count(group) == 1 and len(reads) == 4  # the file once, then three selections from it


def test_a_client_gone_before_the_answer_starts_leaves_no_job_behind(service):
    """The connection fails on the answer's first message: the admitted job must not hold its place
    in the queue for ever (enough such clients would make the server answer "busy" to everyone)."""
    import asyncio

    svc = server.Service(service.engine, MAX_UPLOAD, jobs=1, queue=4)
    body = png(random_image(24, 32))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/stylize",
        "raw_path": b"/api/stylize",
        "query_string": urlencode({"name": "photo.png", "style": "mosaic"}).encode(),
        "headers": [(b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        raise OSError("the client closed the connection")

    async def call():
        try:
            await server.app(svc)(scope, receive, send)
        except Exception:
            pass  # the server sees the failure; what matters is what it keeps
        for _ in range(100):
            if not svc.active:
                break
            await asyncio.sleep(0.05)

    try:
        asyncio.run(call())
        assert svc.active == [] and svc.reading == 0
    finally:
        svc.close()
