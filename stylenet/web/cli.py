"""The ``serve`` and ``export-web`` commands (hooked into ``stylenet.cli`` by ``add_commands``)."""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys

from ..cli.common import add_style_size
from ..errors import StylenetError

DEFAULT_PORT = 8000


def add_commands(sub) -> None:
    s = sub.add_parser(
        "serve",
        help="a web page to stylize photos (needs the [web] extra)",
        description="Serve a page on this computer: drop a photo, pick a style, download the result. "
        "Binds to 127.0.0.1 unless --host says otherwise.",
    )
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this computer only)")
    s.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    s.add_argument("--max-upload-mb", type=float, default=25.0, help="largest photo accepted, in MB (default 25)")
    s.add_argument(
        "--max-megapixels", type=float, default=16.0, help="largest photo stylized, in megapixels (default 16)"
    )
    s.add_argument("--jobs", type=int, default=1, help="photos stylized at once (default 1)")
    s.add_argument("--queue", type=int, default=8, help="photos that may wait; more are refused (default 8)")
    s.add_argument("--styles", help="offer only these styles (comma-separated names; default: every installed one)")
    add_style_size(s, "a dropped painting")
    s.add_argument("--static", metavar="DIR", help="serve a folder written by `stylenet export-web` instead")
    s.add_argument("-q", "--quiet", action="store_true", help="no request log")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser(
        "export-web",
        help="write a static page that stylizes in the browser",
        description="Write a folder any static host can serve: the page, ONNX networks of the styles and "
        "onnxruntime-web (from the npm registry). Photos never leave the computer.",
    )
    s.add_argument(
        "folder", metavar="DIR", help="the folder to write (refused if it holds anything, unless --overwrite)"
    )
    s.add_argument("--styles", help="only these styles (comma-separated names; default: every installed one)")
    s.add_argument(
        "--max-megapixels", type=float, default=2.0, help="largest photo the page stylizes, in megapixels (default 2)"
    )
    s.add_argument(
        "--ort-web", metavar="TGZ", help="an onnxruntime-web package file (npm pack) instead of the registry"
    )
    s.add_argument("--overwrite", action="store_true", help="replace the page's files in a folder that holds some")
    s.set_defaults(func=cmd_export_web)


def _names(spec: str | None) -> list[str] | None:
    return [n.strip() for n in spec.split(",") if n.strip()] if spec else None


def _web_stack():
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as e:
        raise StylenetError(
            f"stylenet serve needs the [web] extra ({e.name} is missing): pip install 'stylenet[web]'"
        ) from None
    return uvicorn


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one); a one-line error where that fails."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise StylenetError(f"--host {host}: {e.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise StylenetError(f"cannot listen on {host}:{port} ({e.strerror}); choose another --port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(a: argparse.Namespace) -> int:
    uvicorn = _web_stack()
    from . import server

    if a.jobs < 1 or a.queue < 0 or a.max_upload_mb <= 0 or a.max_megapixels <= 0:
        raise StylenetError("--jobs must be at least 1, --queue at least 0, the size limits positive")
    if a.static:
        application = server.static_app(a.static)
        what = f"the static page in {a.static}"
    else:
        from .jobs import Engine, watching_jobs

        engine = Engine(_names(a.styles), max_pixels=int(a.max_megapixels * 1e6), style_size=a.style_size)
        engine.make_thumbnails()
        service = server.Service(engine, int(a.max_upload_mb * 1e6), a.jobs, a.queue)
        application = server.app(service)
        what = f"{len(engine.styles)} styles, photos up to {a.max_upload_mb:g} MB and {a.max_megapixels:g} MP"
    sock = bind(a.host, a.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if not is_loopback(host):
        print(
            f"warning: listening on {host}:{port}, not only on this computer: anyone who can reach this address "
            "can upload photos and use this computer's processor (use --host 127.0.0.1 to keep it local)",
            file=sys.stderr,
        )
    print(f"serving {what} on http://{shown}:{port}/ (Ctrl-C stops)", flush=True)
    config = uvicorn.Config(
        application, log_level="warning" if a.quiet else "info", access_log=not a.quiet, timeout_graceful_shutdown=2
    )
    srv = uvicorn.Server(config)
    if not a.static:
        stop = srv.handle_exit

        def handle_exit(sig, frame) -> None:  # Ctrl-C: end the jobs first, so that their answers end at once
            service.cancel_all()
            stop(sig, frame)

        srv.handle_exit = handle_exit
    if a.static:
        srv.run(sockets=[sock])
        return 0
    with watching_jobs():
        try:
            srv.run(sockets=[sock])
        finally:
            service.close()
    return 0


def cmd_export_web(a: argparse.Namespace) -> int:
    from .export import export_web

    out = export_web(
        a.folder,
        styles=_names(a.styles),
        max_pixels=int(a.max_megapixels * 1e6),
        ort_web=a.ort_web,
        overwrite=a.overwrite,
        progress=print,
    )
    print(f"wrote {out}; serve it with `stylenet serve --static {out}` or any static web server")
    return 0
