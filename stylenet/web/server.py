"""``stylenet serve``: the page, the styles and a bounded queue of jobs (Starlette on uvicorn).

Routes (nothing else answers; no part of a URL is ever joined to a file path):

* ``GET /``, ``/app.js``, ``/app.css``, ``/worker.js``: the page, from the package's whitelist ``ASSETS``;
* ``GET /config.json``: the styles, the limits, whether a painting can be the style;
* ``GET /thumbs/{name}.jpg``: a style's thumbnail, by registry name, made at start-up;
* ``POST /api/stylize?style=...``: the photo is the request body (at most ``max_upload`` bytes, read
  in chunks: a larger body is refused before it is all read); the answer streams lines of JSON:
  ``{"queued": position}``, ``{"progress": 0..1 or null, "seconds": s}``, then ``{"done": ...,
  "png": base64}`` or ``{"error": "one line"}``. At most ``jobs`` run at once and ``queue`` wait;
  more are refused (503). A client that goes away cancels its job, waiting or running;
* ``GET /api/status``: counts of jobs (running, waiting, done, failed, cancelled).

``static_app(folder)`` serves a folder written by ``stylenet export-web`` instead: the files it
held at start-up, by exact name, with the headers that let the browser use threads.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import mimetypes
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import StylenetError
from .jobs import Cancelled, Engine, Job, Order

log = logging.getLogger("stylenet.web")

ASSETS = {  # URL path -> (file in stylenet/web/assets, media type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
    "/worker.js": ("worker.js", "text/javascript; charset=utf-8"),
}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; script-src 'self' 'wasm-unsafe-eval'; "
    "worker-src 'self' blob:; connect-src 'self' blob: data:; style-src 'self'",
}
ISOLATION_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}
POLL = 0.25  # seconds between progress lines


def asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("assets", name).read_bytes()


def _page_routes() -> list[Route]:
    cache = {path: (asset(name), media) for path, (name, media) in ASSETS.items()}

    def serve_asset(request: Request) -> Response:
        body, media = cache[request.url.path]
        return Response(body, media_type=media, headers=SECURITY_HEADERS)

    return [Route(path, serve_asset) for path in ASSETS]


def _float(value: str | None, default: float, label: str) -> float:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise StylenetError(f"{label}={value!r}: not a number") from None


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)


def _line(obj: dict) -> bytes:
    return (json.dumps(obj) + "\n").encode()


class TooLarge(StylenetError):
    """A request body over the server's upload limit (HTTP 413)."""


class Service:
    """The jobs of one server: a pool of ``jobs`` worker threads and at most ``queue`` waiting."""

    def __init__(self, engine: Engine, max_upload: int, jobs: int = 1, queue: int = 8):
        self.engine, self.max_upload, self.jobs, self.queue = engine, max_upload, jobs, queue
        self.pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="stylize")
        self.active: list[Job] = []  # submitted, not finished, in order
        self.reading = 0  # requests admitted whose body is still being read
        self.counts = {"done": 0, "failed": 0, "cancelled": 0, "refused": 0}

    def config(self) -> dict:
        available, why = self.engine.painting_available()
        return {
            "engine": "server",
            "styles": [
                {"name": s.name, "title": s.title, "group": s.group, "thumb": f"thumbs/{s.name}.jpg"}
                for s in self.engine.styles.values()
            ],
            "limits": {
                "max_upload_bytes": self.max_upload,
                "max_pixels": self.engine.max_pixels,
                "jobs": self.jobs,
                "queue": self.queue,
            },
            "painting": {"available": available, "message": why},
        }

    def status(self) -> dict:
        running = sum(1 for j in self.active if j.started.is_set())
        return {"running": running, "waiting": len(self.active) - running, **self.counts}

    async def read_body(self, request: Request, what: str) -> bytes:
        """The request body, refused (``StylenetError``) past ``max_upload`` bytes without reading it all."""
        limit = self.max_upload
        refusal = (
            f"{what} is larger than {limit / 1e6:.0f} MB, the limit of this server (stylenet serve --max-upload-mb)"
        )
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise TooLarge(refusal)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise TooLarge(refusal)
        return bytes(body)

    def order(self, request: Request, body: bytes) -> Order:
        q = request.query_params
        name = q.get("name") or "photo"
        painting_bytes = q.get("painting_bytes")
        order = Order(
            photo=body,
            name=name,
            style=q.get("style") or None,
            style2=q.get("style2") or None,
            mix=_float(q.get("mix"), 0.0, "mix"),
            strength=_float(q.get("strength"), 1.0, "strength"),
            preserve_color=q.get("preserve_color") in ("1", "true", "on"),
        )
        if painting_bytes is not None:
            order.painting_name = q.get("painting_name") or "painting"
            if not painting_bytes.isdigit() or int(painting_bytes) > len(body):
                raise StylenetError("painting_bytes: the painting's size in bytes, at the end of the body")
            if int(painting_bytes) == 0:
                raise StylenetError(f"{order.painting_name}: empty file (0 bytes)")
            cut = len(body) - int(painting_bytes)
            order.photo, order.painting = body[:cut], body[cut:]
            available, why = self.engine.painting_available()
            if not available:
                raise StylenetError(why)
        if not order.photo:
            raise StylenetError(f"{name}: empty file (0 bytes)")
        self.engine.check(order)
        return order

    async def stylize(self, request: Request) -> Response:
        if len(self.active) + self.reading >= self.jobs + self.queue:
            self.counts["refused"] += 1
            return _error(
                f"the server is busy: {len(self.active) + self.reading} photos are being stylized or waiting "
                f"(stylenet serve --jobs {self.jobs} --queue {self.queue}); try again in a moment",
                503,
            )
        self.reading += 1  # its place is held while the body comes in
        try:
            q = request.query_params
            what = q.get("name") or "the upload"
            if q.get("painting_bytes") is not None:  # one body: the photo, then the painting
                what = f"{what} with the painting {q.get('painting_name') or 'painting'}"
            body = await self.read_body(request, what)
            order = self.order(request, body)
        except StylenetError as e:
            self.counts["failed"] += 1
            return _error(str(e), 413 if isinstance(e, TooLarge) else 400)
        finally:
            self.reading -= 1
        job = Job(order, self.engine)
        self.active.append(job)
        return _Answer(self.events(job), release=lambda: self._finish(job))

    async def events(self, job: Job):
        future = self.pool.submit(job.run)
        waiting = asyncio.wrap_future(future)
        try:
            while True:
                done, _ = await asyncio.wait({waiting}, timeout=POLL)
                if done:
                    break
                if job.cancelled.is_set():  # the server is stopping: end the answer now, the job ends within a layer
                    yield _line({"error": "the server is stopping; try again when it is back"})
                    return
                if job.started.is_set():
                    yield _line({"progress": job.progress, "seconds": round(job.elapsed(), 2)})
                else:
                    queued = [j for j in self.active if not j.started.is_set()]
                    yield _line({"queued": queued.index(job) + 1 if job in queued else 1})
            try:
                result = waiting.result()
            except StylenetError as e:
                self.counts["failed"] += 1
                yield _line({"error": str(e)})
                return
            except Cancelled:
                return
            except Exception as e:  # a bug: the page says so in one line, the log has the traceback
                log.error("job failed:\n%s", traceback.format_exc())
                self.counts["failed"] += 1
                yield _line({"error": f"internal error ({e.__class__.__name__}: {e}); see the server's log"})
                return
            self.counts["done"] += 1
            yield _line(
                {
                    "done": True,
                    "width": result.width,
                    "height": result.height,
                    "filename": result.filename,
                    "seconds": round(result.seconds, 3),
                    "png": base64.b64encode(result.png).decode(),
                }
            )
        finally:
            waiting.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no "never retrieved" log
            if not future.done():  # the client went away: free the worker (or the place in the queue)
                job.cancel()
                future.cancel()
                self.counts["cancelled"] += 1
                future.add_done_callback(lambda _: self._finish(job))
            else:
                self._finish(job)

    def cancel_all(self) -> None:
        """Cancel every job (a running one stops within a layer); their answers end."""
        for job in list(self.active):
            job.cancel()

    def close(self) -> None:
        """Stop every job and the worker threads."""
        self.cancel_all()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _finish(self, job: Job) -> None:
        if job in self.active:
            self.active.remove(job)


class _Answer(StreamingResponse):
    """A job's lines of JSON. ``events`` frees the job once it streams; a client gone before the
    first line (the answer's start cannot be sent) never starts it, so ``release`` frees it here."""

    def __init__(self, lines, release):
        self.started, self.release = False, release
        super().__init__(self._lines(lines), media_type="application/x-ndjson", headers=SECURITY_HEADERS)

    async def _lines(self, lines):
        self.started = True
        async for line in lines:
            yield line

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self.started:
                self.release()


def app(service: Service) -> Starlette:
    def config(request: Request) -> Response:
        return JSONResponse(service.config(), headers=SECURITY_HEADERS)

    def thumb(request: Request) -> Response:
        data = service.engine.thumbs.get(request.path_params["name"])
        if data is None:
            return Response("no such style", status_code=404, media_type="text/plain")
        return Response(data, media_type="image/jpeg", headers={**SECURITY_HEADERS, "Cache-Control": "max-age=3600"})

    def status(request: Request) -> Response:
        return JSONResponse(service.status(), headers=SECURITY_HEADERS)

    routes = _page_routes() + [
        Route("/config.json", config),
        Route("/thumbs/{name}.jpg", thumb),
        Route("/api/stylize", service.stylize, methods=["POST"]),
        Route("/api/status", status),
    ]
    return Starlette(routes=routes)


def static_app(folder: str | Path) -> Starlette:
    """A folder written by ``export-web``, served as it was at start-up (regular files, by exact name)."""
    root = Path(folder).resolve()
    if not (root / "index.html").is_file() or not (root / "config.json").is_file():
        raise StylenetError(f"{folder}: not a folder written by `stylenet export-web` (no index.html, config.json)")
    files = {}
    for path in root.rglob("*"):
        if (
            path.is_file()
            and not path.is_symlink()
            and not any(p.startswith(".") for p in path.relative_to(root).parts)
        ):
            files["/" + path.relative_to(root).as_posix()] = path
    files["/"] = root / "index.html"
    types = {
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".onnx": "application/octet-stream",
    }

    def serve(request: Request) -> Response:
        path = files.get(request.url.path)
        if path is None:
            return Response("not found", status_code=404, media_type="text/plain")
        media = types.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        headers = {**SECURITY_HEADERS, **ISOLATION_HEADERS, "Cross-Origin-Resource-Policy": "same-origin"}
        return FileResponse(path, media_type=media, headers=headers)

    return Starlette(routes=[Route("/{path:path}", serve)])


@contextlib.contextmanager
def running(application: Starlette, host: str = "127.0.0.1", port: int = 0):
    """Serve ``application`` on a thread for the block (tests, scripts); yields the base URL."""
    import uvicorn

    from .cli import bind

    sock = bind(host, port)
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
