"""One precision policy for every entry point: bf16 only where the hardware computes it natively.

``auto``, the default of training, ``stylize``, ``video``, ``evaluate``, ``optimize`` and
``bench``, resolves here and nowhere else:

* CUDA with native bf16 (Ampere and newer): bf16;
* a CPU with AVX512-BF16 or AMX: bf16 (about 2.3x fp32 matrix products);
* anything else: fp32. Without native bf16 the CPU emulates it, about 15x slower
  than fp32 on a 2-core AVX2 machine (docs/performance.md); a CUDA GPU without bf16
  stays in fp32 too (fp16 with a loss scaler is not measured in this project).

An explicit ``bf16`` still wins, with a one-line warning where it is emulated.

The CPU probe reads ``/proc/cpuinfo``; two environment variables change its answer so
that either kind of machine can be simulated on the other:

* ``STYLENET_CPU_FEATURES=avx2`` (a comma list; empty for none) replaces the probe;
* ``ONEDNN_MAX_CPU_ISA=AVX2`` (or any ISA below AVX-512), which also makes oneDNN use
  only those kernels, removes the AVX-512 and AMX flags from the answer. With
  ``ATEN_CPU_CAPABILITY=avx2`` as well, a bf16 machine computes like an AVX2 one.
"""

from __future__ import annotations

import functools
import os
import sys

import torch

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")  # the ones that decide the precision and the speed
ENV = "STYLENET_CPU_FEATURES"
INFERENCE = ("auto", "fp32", "bf16")
# Lightning's names; "auto" is ours and is resolved before Lightning sees it
TRAINING = ("auto", "32-true", "32", "bf16-mixed")
EMULATED_COST = "about 15x slower than fp32"  # the 2-core AVX2 machine's training step (docs/performance.md)


@functools.cache
def _cpuinfo() -> tuple[str, frozenset[str]]:
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return "unknown CPU", frozenset()
    model, flags = "unknown CPU", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown CPU":
            model = value.strip()
        elif key.strip() == "flags":
            flags |= set(value.split())
    return model, frozenset(flags)


def cpu_model() -> str:
    return _cpuinfo()[0]


def cpu_flags() -> frozenset[str]:
    """The flags of ``FLAGS`` this CPU has, as the environment variables above say."""
    if ENV in os.environ:
        flags = {f.strip().lower() for f in os.environ[ENV].split(",") if f.strip()}
    else:
        flags = set(_cpuinfo()[1]) & set(FLAGS)
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if isa and not isa.startswith(("AVX512", "AVX10", "ALL", "DEFAULT")):
        flags -= {"avx512f", "avx512_bf16", "amx_bf16"}
    return frozenset(flags)


def describe_cpu() -> str:
    """One line for tables and logs: the CPU model and the flags that matter."""
    flags = cpu_flags()
    have = ", ".join(f for f in FLAGS if f in flags) or "none of " + "/".join(FLAGS)
    bf16 = "native bf16" if native_bf16(torch.device("cpu")) else "bf16 emulated"
    return f"{cpu_model()}; flags: {have} ({bf16}); {torch.get_num_threads()} threads"


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bf16 natively (not emulated)."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # older torch: no emulation argument
            return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        flags = cpu_flags()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    return False


_warned: set[str] = set()


def warn_if_emulated(bf16: bool, device: torch.device | str) -> None:
    """Say once per device kind, in one line on stderr, that bf16 was asked for where it is emulated."""
    device = torch.device(device)
    if bf16 and not native_bf16(device) and device.type not in _warned:
        _warned.add(device.type)
        what = "this CPU has no AVX512-BF16 or AMX" if device.type == "cpu" else f"{device.type} has no native bf16"
        print(f"warning: bf16 is emulated here ({what}): {EMULATED_COST}; use precision auto or fp32", file=sys.stderr)


def resolve(precision: str, device: torch.device | str) -> str:
    """Inference precision: ``auto`` -> ``bf16`` where ``device`` computes it natively, else ``fp32``."""
    if precision not in INFERENCE:
        raise ValueError(f"unknown precision {precision!r}; use {', '.join(INFERENCE)}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    warn_if_emulated(precision == "bf16", device)
    return precision


def training_device(accelerator: str | None) -> torch.device:
    """The device a Lightning ``accelerator`` setting trains on."""
    accelerator = (accelerator or "auto").lower()
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def resolve_training(precision: str, accelerator: str | None) -> tuple[str, str]:
    """Lightning's ``precision`` for a run, and why: ``auto`` -> ``bf16-mixed`` where native, else ``32-true``."""
    precision = str(precision)
    if precision not in TRAINING:
        raise ValueError(f"trainer.precision={precision} is not supported; use one of {', '.join(TRAINING)}")
    device = training_device(accelerator)
    where = torch.cuda.get_device_name() if device.type == "cuda" and torch.cuda.is_available() else cpu_model()
    native = native_bf16(device)
    if precision == "auto":
        chosen = "bf16-mixed" if native else "32-true"
        return chosen, f"auto: {where} {'has' if native else 'has no'} native bf16"
    warn_if_emulated(precision == "bf16-mixed", device)
    return precision, f"asked for ({where}{'' if native or precision != 'bf16-mixed' else ', bf16 emulated'})"
