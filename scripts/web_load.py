"""A load test of ``stylenet serve`` from a second process on loopback: ``python scripts/web_load.py``.

Without ``--url`` it starts ``stylenet serve --port 0`` itself (a child process), so that the
server's peak memory (VmHWM) can be read; with ``--url`` it loads a server already running
(loopback addresses only). It sends ``--requests`` stylize requests, ``--concurrency`` at a
time, each a photo of ``--size`` pixels, and reports: how many finished with a result, were
refused as busy (503, with the server's message), failed, or were lost (no complete
answer); stalls (a response with no line for ``--stall`` seconds: the server writes one
every quarter second); latencies; and the server's peak memory. Exit status 1 when any
request was lost or stalled. It imports neither stylenet, torch nor the web stack (NumPy and
Pillow draw the photos).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

LOOPBACK = re.compile(r"^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$")


def photo_bytes(width: int, height: int, seed: int = 0) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    arr = np.stack([np.sin(7 * x + seed), np.cos(5 * y), x * y], -1) * 0.35 + 0.5
    arr = np.clip(arr + rng.normal(0, 0.05, arr.shape), 0, 1)
    buf = io.BytesIO()
    Image.fromarray((arr * 255).astype(np.uint8), "RGB").save(buf, format="PNG")
    return buf.getvalue()


def one_request(host: str, port: int, body: bytes, style: str, stall: float, timeout: float) -> dict:
    """POST one photo and read the streamed answer; the outcome and its timings."""
    t0 = time.monotonic()
    out = {"outcome": "lost", "seconds": None, "longest_gap": 0.0, "message": ""}
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        query = urlencode({"style": style, "name": "load.png"})
        conn.request("POST", f"/api/stylize?{query}", body=body, headers={"Content-Type": "image/png"})
        resp = conn.getresponse()
        if resp.status != 200:
            msg = json.loads(resp.read() or b"{}").get("error", "")
            out.update(outcome="refused" if resp.status == 503 else "failed", message=msg)
            return out
        last = time.monotonic()
        while True:
            line = resp.readline()
            now = time.monotonic()
            out["longest_gap"] = max(out["longest_gap"], now - last)
            last = now
            if not line:
                break  # the answer ended without a result: lost
            m = json.loads(line)
            if "error" in m:
                out.update(outcome="failed", message=m["error"])
                break
            if m.get("done"):
                out["outcome"] = "done"
                break
    except (OSError, http.client.HTTPException, ValueError) as e:
        out["message"] = f"{e.__class__.__name__}: {e}"
    finally:
        conn.close()
        out["seconds"] = time.monotonic() - t0
        out["stalled"] = out["longest_gap"] > stall
    return out


def peak_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def start_server(args: list[str]) -> tuple[subprocess.Popen, str]:
    """``stylenet serve --port 0 ARGS`` as a child process; returns it and its URL."""
    cmd = [sys.executable, "-m", "stylenet", "serve", "--port", "0", "--quiet", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"http://[^ ]+/", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the server did not start: {line}{proc.stderr.read()}")
    return proc, match.group(0)


def run(
    url: str,
    requests: int = 20,
    concurrency: int = 10,
    size: tuple[int, int] = (320, 240),
    style: str = "mosaic",
    stall: float = 5.0,
    timeout: float = 300.0,
    server_pid: int | None = None,
) -> dict:
    parts = urlsplit(url)
    if not LOOPBACK.match(parts.hostname or ""):
        raise SystemExit(f"{url}: the load test sends requests to loopback addresses only (127.0.0.1, localhost, ::1)")
    bodies = [photo_bytes(*size, seed=i) for i in range(min(requests, 4))]
    peak = {"mb": 0.0}
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.1):
            peak["mb"] = max(peak["mb"], peak_rss_mb(server_pid) or 0.0)

    watcher = threading.Thread(target=watch, daemon=True) if server_pid else None
    if watcher:
        watcher.start()
    t0 = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        futures = [
            pool.submit(one_request, parts.hostname, parts.port or 80, bodies[i % len(bodies)], style, stall, timeout)
            for i in range(requests)
        ]
        results = [f.result() for f in futures]
    wall = time.monotonic() - t0
    stop.set()
    counts = {k: sum(r["outcome"] == k for r in results) for k in ("done", "refused", "failed", "lost")}
    done = sorted(r["seconds"] for r in results if r["outcome"] == "done")
    report = {
        "requests": requests,
        "concurrency": concurrency,
        "photo": f"{size[0]}x{size[1]}",
        **counts,
        "stalled": sum(r["stalled"] for r in results),
        "longest_gap_s": round(max(r["longest_gap"] for r in results), 2),
        "wall_s": round(wall, 2),
        "latency_median_s": round(statistics.median(done), 2) if done else None,
        "latency_max_s": round(done[-1], 2) if done else None,
        "messages": sorted({r["message"] for r in results if r["message"]}),
    }
    if server_pid:
        report["server_peak_rss_mb"] = round(max(peak["mb"], peak_rss_mb(server_pid) or 0.0), 1)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running server (loopback); default: start `stylenet serve --port 0`")
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--size", default="320x240", help="photo WIDTHxHEIGHT (default 320x240)")
    p.add_argument("--style", default="mosaic")
    p.add_argument("--stall", type=float, default=5.0, help="seconds without a line that count as a stall")
    p.add_argument("--serve-args", default="", help="arguments for the started server, e.g. '--jobs 1 --queue 8'")
    a = p.parse_args(argv)
    size = tuple(int(v) for v in a.size.lower().split("x"))
    proc = None
    url = a.url
    if url is None:
        proc, url = start_server(a.serve_args.split())
    try:
        report = run(url, a.requests, a.concurrency, size, a.style, a.stall, server_pid=proc.pid if proc else None)
        report["cpu"] = cpu_summary()
        print(json.dumps(report, indent=1))
    finally:
        if proc:
            proc.terminate()
            proc.wait(30)
    return 1 if report["lost"] or report["stalled"] else 0


def cpu_summary() -> str:
    """The processor's model, cores and its widest vector instructions (the figures depend on them)."""
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and not model:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    vector = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{model or 'unknown CPU'}, {os.cpu_count()} cores, {' '.join(vector) or 'no avx2'}"


if __name__ == "__main__":
    sys.exit(main())
