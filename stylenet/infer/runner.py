"""Applying networks fast: ``Runner`` runs a network through a fast inference copy of it.

The copy has the fast layer forms (``stylenet.model.fast.speed_up``: same parameters,
same function), weights in bf16 where the hardware computes bf16 natively (the
precision policy, ``stylenet.precision``), a channels-last layout and in-place ReLUs.
``shared_runner`` keeps one runner per device and precision, so that calls with the same
network reuse its copy. Measured by ``stylenet bench`` (docs/performance.md).
"""

from __future__ import annotations

import copy
import weakref

import torch
from torch import nn

from .. import precision as policy
from ..model.fast import speed_up


def for_inference(net: nn.Module, device: torch.device, bf16: bool) -> nn.Module:
    """A fast inference copy of ``net`` on ``device`` (bf16 weights if ``bf16``, channels-last)."""
    fast = speed_up(copy.deepcopy(net)).eval().requires_grad_(False)
    for m in fast.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = True
    fast = fast.to(device, torch.bfloat16 if bf16 else torch.float32)
    for m in fast.modules():
        if getattr(m, "keep_float32", False):  # e.g. frozen norm statistics: rounding them would show
            m.float()
    return fast.to(memory_format=torch.channels_last)


def _compile(module: nn.Module) -> nn.Module:
    # weights are constants: prepacked convolutions, folded norms. Set for this compile only:
    # a global inductor.freezing would also freeze (and break) a later training compile.
    return torch.compile(module, dynamic=False, options={"freezing": True})


class Runner:
    """Applies networks on one device and precision through their fast copies.

    ``runner(net, x)`` takes a ``(B, 3, H, W)`` float tensor in [0, 1] anywhere and
    returns the output as float32 on the CPU. Fast copies are made once per network
    (again after its parameters change in place).
    ``compile=True`` adds torch.compile (seconds to compile per image size): on this
    2-core CPU it gains little over the eager fast copy (docs/performance.md).
    """

    def __init__(self, device: torch.device | str = "cpu", precision: str = "auto", compile: bool = False):
        self.device = torch.device(device)
        self.precision = policy.resolve(precision, self.device)
        self.compile = compile
        # per network (weakly held: a network that is gone frees its copies): the versions of
        # its parameters when copied (an in-place update makes a new copy), fast, compiled
        self._fast: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"

    def _entry(self, net: nn.Module) -> tuple[tuple, nn.Module, nn.Module | None]:
        # the parameters' versions and the border: a change to either makes a new copy
        versions = (tuple(p._version for p in net.parameters()), getattr(net, "border", 0))
        entry = self._fast.get(net)
        if entry is None or entry[0] != versions:
            fast = for_inference(net, self.device, self.bf16)
            entry = (versions, fast, _compile(fast) if self.compile else None)
            self._fast[net] = entry
        return entry

    def fast(self, net: nn.Module) -> nn.Module:
        """The eager fast copy of ``net`` (hooks registered on it see every call)."""
        return self._entry(net)[1]

    def __call__(self, net: nn.Module, x: torch.Tensor, compiled: bool = True) -> torch.Tensor:
        _, fast, fast_compiled = self._entry(net)
        module = fast_compiled if compiled and fast_compiled is not None else fast
        x = x.to(self.device, torch.bfloat16 if self.bf16 else torch.float32, non_blocking=True)
        with torch.inference_mode():
            y = module(x.contiguous(memory_format=torch.channels_last))
        return y.float().cpu()


_runners: dict[tuple[torch.device, str], Runner] = {}


def shared_runner(device: torch.device, precision: str) -> Runner:
    """One ``Runner`` per device and resolved precision, so that calls with the same network reuse its fast copy."""
    key = (device, policy.resolve(precision, device))
    if key not in _runners:
        _runners[key] = Runner(device, precision)
    return _runners[key]
