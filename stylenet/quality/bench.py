"""``stylenet bench``: inference and training speed against a plain eager fp32 baseline.

Every figure is a median over interleaved repetitions (each round runs every path
once, so that a noisy machine slows all paths alike), and every ratio is to the
baseline measured in the same run. Outputs are compared with the fp32 baseline's.
Every table names the CPU and the flags that decide the precision, and marks
"(default)" the row that ``precision="auto"`` runs on this machine; bf16 rows appear
where the hardware computes bf16 natively, or with ``--emulated`` (slow: about 15x fp32).

  stylenet bench inference --size 1024 [--model compact] [--weights file]
  stylenet bench training --size 256 --batch 4 [--vgg path/to/vgg16.pth]
  stylenet bench video [--sizes 640x272,1280x720]     # frames/s and peak RSS, full and compact networks
  stylenet bench painting --size 1024 [--adain]        # any painting as the style, against the Johnson network
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from .. import precision as policy
from ..defaults import BLEND, COMPACT, DENOISE, STABILITY, STYLE_SIZE
from ..infer import memory
from ..infer.runner import Runner
from ..model.transformer import TransformerNet


def counted_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations of one call of ``fn`` (forward and backward), by torch's counter."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def matmul_peak(device: torch.device, n: int = 2048, rounds: int = 5) -> float:
    """This machine's fp32 matrix-product rate in GFLOP/s (an n x n product, median of ``rounds``): the
    ceiling a convolution path can approach; a path above it does fewer operations than the baseline."""
    a, b = torch.rand(n, n, device=device), torch.rand(n, n, device=device)
    times = interleaved({"mm": lambda: (a @ b).sum().item()}, rounds)["mm"]
    return 2 * n**3 / statistics.median(times) / 1e9


@dataclass
class Row:
    path: str
    seconds: list[float]
    max_err: float | None = None  # in 1/255 units against the fp32 baseline
    mean_err: float | None = None
    flops: int = 0  # the baseline's operations per call (the same work for every path)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def plain(path: str) -> bool:
    """A path that a user without stylenet would run (the baseline, autocast, ONNX Runtime)."""
    return any(w in path for w in ("baseline", "autocast", "onnxruntime"))


def interleaved(
    fns: dict[str, Callable[[], object]], rounds: int, warmup: int = 1, keep: bool = False
) -> dict[str, list[float]]:
    """Time each function ``rounds`` times, round-robin over the paths.

    Within a round each path first runs ``warmup`` untimed calls, then one timed call:
    the timed call sees the path's own steady state (allocator, caches) rather than
    the previous path's leftovers, while a slow drift of the machine still hits every
    path alike. ``keep``: stylenet's paths keep freed memory, as ``stylenet stylize`` and
    ``video`` do, and the plain ones run under glibc's own policy (switched before the warm-up).
    """
    times: dict[str, list[float]] = {k: [] for k in fns}
    before = memory.policy()
    try:
        for _ in range(rounds):
            for k, f in fns.items():
                if keep and plain(k):
                    memory.glibc_defaults()
                elif keep:
                    memory.keep_freed_memory()
                for _ in range(warmup):
                    f()
                start = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - start)
    finally:
        if keep:
            memory.set_policy(before)
    return times


def _precisions(args, device: torch.device) -> list[str]:
    """fp32, and bf16 where the hardware computes it natively (or ``--emulated``)."""
    return ["fp32", "bf16"] if policy.native_bf16(device) or args.emulated else ["fp32"]


def _label(path: str, default: bool) -> str:
    return f"{path} (default)" if default else path


def random_net(model: str) -> TransformerNet:
    """The ``johnson`` or ``compact`` network with seeded random weights (speed does not depend on them)."""
    torch.manual_seed(0)
    return TransformerNet(**(COMPACT if model == "compact" else {})).eval()


def _net(args) -> TransformerNet:
    if args.weights:
        from ..styles.load import load

        return load(args.weights)
    return random_net(args.model)


def bench_inference(args) -> list[Row]:
    net = _net(args)
    torch.manual_seed(1)
    x = torch.rand(1, 3, args.size, args.size)
    device = torch.device(args.device)

    def baseline() -> torch.Tensor:
        with torch.inference_mode():
            return net.to(device)(x.to(device)).float().cpu()

    def autocast() -> torch.Tensor:
        with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16):
            return net.to(device)(x.to(device)).float().cpu()

    default = policy.resolve("auto", device)
    paths: dict[str, Callable[[], torch.Tensor]] = {"eager fp32 (baseline)": baseline}
    for precision in _precisions(args, device):
        if precision == "bf16":
            paths["bf16 autocast"] = autocast
        runner = Runner(device, precision)
        paths[_label(f"stylenet {precision} (fast copy)", precision == default)] = partial(runner, net, x)
        if args.compile:
            compiled = Runner(device, precision, compile=True)
            paths[f"stylenet {precision} + compile"] = partial(compiled, net, x)
    if args.onnx:
        paths["onnxruntime fp32"] = _onnx_path(net, x)
    ref = baseline()
    outputs = {k: f() for k, f in paths.items()}
    flops = counted_flops(baseline)
    times = interleaved(paths, args.rounds, keep=args.keep_freed_memory)
    rows = []
    for k in paths:
        err = (outputs[k] - ref).abs() * 255
        rows.append(Row(k, times[k], float(err.max()), float(err.mean()), flops))
    return rows


def bench_painting(args) -> list[Row]:
    """Seconds per photo with a painting as the style (the shipped predictor, or ``--weights``; AdaIN with
    random weights with ``--adain``) against the Johnson network: its eager fp32 baseline and ``stylize``'s
    default path. "cached": the painting's statistics computed once (a batch, a clip, a second call); "new
    painting": a different painting every call (its VGG pass and its network made each time)."""
    from ..infer.arbitrary import load_decoder
    from ..infer.stylize import stylize
    from ..model.adain import AdaINNet

    net = random_net("johnson")
    torch.manual_seed(1)
    x = torch.rand(1, 3, args.size, args.size)
    painting = torch.rand(3, 512, 512)
    device = torch.device(args.device)

    def baseline() -> torch.Tensor:
        with torch.inference_mode():
            return net.to(device)(x.to(device)).float().cpu()

    def fresh() -> torch.Tensor:
        return torch.rand(3, 512, 512)

    paths: dict[str, Callable[[], object]] = {
        "Johnson, eager fp32 (baseline)": baseline,
        "Johnson, stylize (default)": lambda: stylize(x, net, device=device),
    }
    networks = {"predictor": load_decoder(args.weights or "predictor", vgg=args.vgg)}
    if args.adain:
        torch.manual_seed(0)
        networks["AdaIN"] = AdaINNet(weights=args.vgg).eval()
    for name, pnet in networks.items():
        paths[f"{name}, painting cached"] = partial(stylize, x, style_image=painting, network=pnet, device=device)
        paths[f"{name}, a new painting each call"] = lambda pnet=pnet: stylize(
            x, style_image=fresh(), network=pnet, device=device
        )
    times = interleaved(paths, args.rounds, keep=args.keep_freed_memory)
    return [Row(k, v) for k, v in times.items()]


def print_painting_table(rows: list[Row], size: int, device: str = "cpu", keep: bool = False) -> None:
    base, johnson = rows[0].median, rows[1].median
    print(f"{'path':36s} {'resolution':>11s} {'ms/image':>9s} {'vs base':>8s} {'vs Johnson default':>19s}")
    for r in rows:
        print(
            f"{r.path:36s} {size:>5d}x{size:<5d} {r.median * 1000:9.0f} {base / r.median:7.2f}x "
            f"{r.median / johnson:17.2f}x time"
        )
    print(
        f"(medians of {len(rows[0].seconds)} interleaved rounds, one photo a call; the painting 512x512; "
        f"random weights where speed does not depend on them; torch {torch.__version__}; {_machine(device, keep)})"
    )


def _onnx_path(net: TransformerNet, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    import tempfile

    import onnxruntime as ort

    from ..infer.onnx import export_onnx

    path = tempfile.mkdtemp() + "/net.onnx"
    export_onnx(net, path)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    feed = {"image": x.numpy(), "strength": np.array(1.0, np.float32), "preserve_color": np.array(0.0, np.float32)}
    return lambda: torch.from_numpy(session.run(None, feed)[0])


def bench_training(args) -> list[Row]:
    """Seconds per optimisation step: the canonical eager fp32 recipe against stylenet's."""
    from ..loss.perceptual import build_perceptual_loss, loss_config
    from ..training.module import StyleTransferModule, adam

    torch.manual_seed(0)
    loss_cfg = loss_config(args.vgg)  # the training defaults: layers and weights
    style = torch.rand(1, 3, STYLE_SIZE, STYLE_SIZE)
    batch = torch.rand(args.batch, 3, args.size, args.size)
    steps: dict[str, Callable[[], None]] = {}

    # The canonical recipe (pytorch/examples fast_neural_style): eager fp32, the photo's
    # features computed by the same full VGG pass as the output's, fp32 Gram matrices.
    base_net = random_net(args.model).train()
    base_loss = build_perceptual_loss(loss_cfg)
    base_loss.set_style(style)
    base_opt = torch.optim.Adam(base_net.parameters(), 1e-3)
    layers = set(base_loss.content_layers) | set(base_loss.style_layers)

    def baseline() -> None:
        y = base_net(batch)
        fy, fx = base_loss.vgg(y, layers), base_loss.vgg(batch, layers)
        from ..loss.perceptual import tv_loss

        style, tv = base_loss.style_terms(fy).mean(), tv_loss(y)
        total = base_loss.content_terms(fy, fx) + base_loss.style_weight * style + base_loss.tv_weight * tv
        base_opt.zero_grad()
        total.backward()
        base_opt.step()

    steps["eager fp32 (baseline)"] = baseline

    def recipe(bf16: bool, compile: bool, num_styles: int = 0) -> Callable[[], None]:
        torch.manual_seed(0)
        n = max(1, num_styles)
        module = StyleTransferModule(
            net={**(COMPACT if args.model == "compact" else {}), "num_styles": num_styles},
            loss=loss_cfg,
            optim={"lr": 1e-3},
            styles=[{"name": f"s{i}", "image": "", "size": STYLE_SIZE, "row": i} for i in range(n)],
            style_names=[f"s{i}" for i in range(num_styles)],
            compile=compile,
        )
        module.loss.set_styles([torch.rand_like(style) for _ in range(n)] if num_styles else [style])
        module.speed_up(bf16=bf16, compile=compile)
        opt = adam(module.net.parameters(), 1e-3)
        counter = iter(range(10**9))

        def step() -> None:
            with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                total = module.step_losses(batch, next(counter))["total"]
            opt.zero_grad()
            total.backward()
            opt.step()

        return step

    default = "bf16" if policy.resolve_training("auto", args.device)[0] == "bf16-mixed" else "fp32"
    for precision in _precisions(args, torch.device(args.device)):
        bf16 = precision == "bf16"
        steps[_label(f"stylenet {precision}", precision == default)] = recipe(bf16, False)
        if args.compile:
            steps[f"stylenet {precision} + compile"] = recipe(bf16, True)
    if args.styles:
        steps[f"stylenet {default}, {args.styles} styles"] = recipe(default == "bf16", False, args.styles)
    flops = counted_flops(baseline)
    times = interleaved(steps, args.rounds)
    return [Row(k, v, flops=flops) for k, v in times.items()]


VIDEO_SIZES = "640x272,1280x720"


def _video_paths(net: TransformerNet, w: int, h: int, device: torch.device) -> dict[str, Callable[[], object]]:
    """Per-frame paths of ``stylenet video``: the plain network, the fast copy, and with stability."""
    from ..video.stabilize import ClipStylizer, ema_norms

    torch.manual_seed(1)
    frames = [torch.rand(1, 3, h, w) for _ in range(2)]  # alternate: the flow has something to follow
    rgb = [(f[0].permute(1, 2, 0) * 255).to(torch.uint8).numpy() for f in frames]
    counter = iter(range(10**9))
    fast, stable = Runner(device), ema_norms(net, STABILITY)
    stylizer = ClipStylizer(net, fast, STABILITY, DENOISE, BLEND)

    def baseline() -> torch.Tensor:
        with torch.inference_mode():
            return net.to(device)(frames[0].to(device)).float().cpu()

    return {
        "eager fp32 (baseline)": baseline,
        f"stylenet {fast.precision} (fast copy)": lambda: fast(net, frames[0]),
        f"+ stability {STABILITY:g} (norms)": lambda: fast(stable, frames[next(counter) % 2]),
        f"+ denoise {DENOISE:g}, blend {BLEND:g} (default)": lambda: stylizer(rgb[next(counter) % 2]),
    }


def peak_rss(model: str, w: int, h: int, path: int, keep: bool = False, frames: int = 3) -> float:
    """Peak resident memory (MB) of a fresh process that runs one path of ``_video_paths`` on a few frames
    (``keep``: keeping freed memory, as ``stylenet video`` does)."""
    import subprocess
    import sys

    code = (
        "import torch; from stylenet.infer import memory\n"
        "from stylenet.quality.bench import random_net, _video_paths, own_peak_rss_mb\n"
        f"{'memory.keep_freed_memory()' if keep else ''}\n"
        f"f = list(_video_paths(random_net({model!r}), {w}, {h}, torch.device('cpu')).values())[{path}]\n"
        f"[f() for _ in range({frames})]\n"
        "print(own_peak_rss_mb())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def own_peak_rss_mb() -> float:
    """This process's peak resident memory in MB: Linux's VmHWM, which starts afresh at exec
    (``getrusage``'s ``ru_maxrss`` keeps the forking parent's peak when that was higher)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def bench_video(args) -> list[tuple[str, str, Row, float | None]]:
    """(model, size, row, peak RSS MB) for each network, frame size and path; random weights (speed does
    not depend on them), frames timed one at a time in interleaved rounds."""
    out = []
    for model in ("johnson", "compact"):
        net = random_net(model)
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.lower().split("x"))
            paths = _video_paths(net, w, h, torch.device(args.device))
            times = interleaved(paths, args.rounds, keep=args.keep_freed_memory)
            for i, (k, v) in enumerate(times.items()):
                keep = args.keep_freed_memory and not plain(k)
                rss = peak_rss(model, w, h, i, keep) if args.rss and args.device == "cpu" else None
                out.append((model, size, Row(k, v), rss))
    return out


def print_video_table(rows: list[tuple[str, str, Row, float | None]], device: str = "cpu", keep: bool = False) -> None:
    print(
        f"{'network':8s} {'frame':>9s} {'path':32s} {'ms/frame':>9s} {'frames/s':>8s} {'vs base':>8s} {'peak RSS':>9s}"
    )
    base = None
    for model, size, r, rss in rows:
        base = r.median if r.path.startswith("eager") else base
        mem = f"{rss:6.0f} MB" if rss is not None else f"{'':>9s}"
        print(
            f"{model:8s} {size:>9s} {r.path:36s} {r.median * 1000:9.0f} {1 / r.median:8.2f} "
            f"{base / r.median:7.2f}x {mem}"
        )
    print(
        f"(medians of {len(rows[0][2].seconds)} interleaved rounds, one frame at a time; peak RSS: a fresh process "
        f"running that path alone; torch {torch.__version__}; {_machine(device, keep)})"
    )


_KEPT = "stylenet's paths keep freed memory (as stylenet stylize and video do), the plain ones glibc's policy"


def _machine(device: str, keep: bool) -> str:
    """The GPU, the CPU and its flags, and the allocator policy the paths ran under."""
    gpu = f"GPU: {torch.cuda.get_device_name()}; " if torch.device(device).type == "cuda" else ""
    allocator = "the C library's own policy for every path"
    if keep:
        allocator = _KEPT
    elif memory.available():
        allocator = "glibc's policy for every path"
    return f"{gpu}CPU: {policy.describe_cpu()}; allocator: {allocator}"


def print_table(rows: list[Row], what: str, size: int, batch: int, device: str = "cpu", keep: bool = False) -> None:
    """One row per path; GFLOP/s is the baseline's operations over the row's time (a path that does less work
    than the baseline can show more than the machine's matmul peak, printed below the table)."""
    base = rows[0].median
    mp = size * size * batch / 1e6
    if what == "inference":
        print(
            f"{'path':36s} {'resolution':>11s} {'ms/image':>9s} {'MP/s':>6s} {'GFLOP/s':>8s} {'vs base':>8s} "
            f"{'max err':>8s} {'mean err':>9s}"
        )
        for r in rows:
            print(
                f"{r.path:36s} {size:>5d}x{size:<5d} {r.median * 1000:9.0f} {mp / r.median:6.2f} "
                f"{r.flops / r.median / 1e9:8.1f} "
                f"{base / r.median:7.2f}x {r.max_err:7.2f}/255 {r.mean_err:6.3f}/255"
            )
    else:
        print(f"{'recipe':36s} {'crop':>5s} {'batch':>5s} {'s/step':>7s} {'GFLOP/s':>8s} {'vs base':>8s}")
        for r in rows:
            print(
                f"{r.path:36s} {size:5d} {batch:5d} {r.median:7.2f} {r.flops / r.median / 1e9:8.1f} "
                f"{base / r.median:7.2f}x"
            )
    print(
        f"(medians of {len(rows[0].seconds)} interleaved rounds; the baseline: {rows[0].flops / 1e9:.1f} GFLOP, "
        f"this machine's fp32 matmul peak: {matmul_peak(torch.device(device)):.0f} GFLOP/s; torch {torch.__version__}; "
        f"{_machine(device, keep)})"
    )


def run(args: argparse.Namespace) -> int:
    keep = args.keep_freed_memory and args.what != "training"  # training's paths run under glibc's policy
    if keep and not memory.available():
        print("--keep-freed-memory: this C library is not glibc; every path runs under its own allocator policy")
        keep = False
    default_size = 256 if args.what == "training" else 1024
    args = argparse.Namespace(**{**vars(args), "keep_freed_memory": keep, "size": args.size or default_size})
    if args.what == "video":
        print_video_table(bench_video(args), args.device, keep)
    elif args.what == "painting":
        print_painting_table(bench_painting(args), args.size, args.device, keep)
    elif args.what == "inference":
        print_table(bench_inference(args), "inference", args.size, 1, args.device, keep)
    else:
        print_table(bench_training(args), "training", args.size, args.batch, args.device, keep)
    return 0
