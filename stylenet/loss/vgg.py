"""The frozen VGG loss network, with named feature taps and its own input normalisation.

Simonyan & Zisserman 2014, https://arxiv.org/abs/1409.1556. Images enter in [0, 1]
RGB; each weight source converts them to the convention it was trained with, here
and nowhere else.

Weight sources (``weights=``):

* ``"IMAGENET1K_FEATURES"`` (VGG16 only): torchvision's port of the original Caffe
  weights, which the style-transfer literature used. Downloaded and cached by
  torch.hub on first use. Caffe convention.
* ``"IMAGENET1K_V1"``: torchvision's own training. Torch convention.
* a file path, or an ``http(s)://`` URL, holding a state dict in torchvision's key
  layout (``features.N.weight``); its input convention is ``input=`` ("caffe" by
  default, like the Caffe weights such files usually come from, or "torch").
* ``"random"``: random weights, for tests only. Nothing falls back to it.

Conventions: "caffe" is RGB scaled to 0-255 minus the per-channel mean
(123, 117, 104), no division by a standard deviation; "torch" is ImageNet mean
and standard deviation on [0, 1] values.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
from torch import nn

from ..errors import StylenetError

CONVENTIONS = {
    # name: (mean, std) applied to [0, 1] RGB input
    "caffe": ((123.0 / 255, 117.0 / 255, 104.0 / 255), (1 / 255, 1 / 255, 1 / 255)),
    "torch": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}

# torchvision's configurations: numbers are conv widths, "M" a 2x2 max pool.
ARCHS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}

TORCHVISION_SOURCES = {"IMAGENET1K_FEATURES": "caffe", "IMAGENET1K_V1": "torch"}


class VGGWeightsError(StylenetError):
    """A VGG weight source that cannot be used (missing, unreadable, wrong layout)."""


def layer_names(arch: str) -> list[str]:
    """Names of the entries of ``features`` in order: conv1_1, relu1_1, ..., pool5."""
    names, block, idx = [], 1, 1
    for v in ARCHS[arch]:
        if v == "M":
            names.append(f"pool{block}")
            block, idx = block + 1, 1
        else:
            names += [f"conv{block}_{idx}", f"relu{block}_{idx}"]
            idx += 1
    return names


def _build_features(arch: str, n: int) -> nn.Sequential:
    layers, cin = [], 3
    for v in ARCHS[arch]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
            cin = v
    return nn.Sequential(*layers[:n])


def _is_url(s: str) -> bool:
    return s.startswith(("http://", "https://"))


def load_vgg_state_dict(arch: str, weights: str) -> tuple[dict[str, torch.Tensor], str | None]:
    """Fetch a VGG state dict; returns it and the convention the source implies (or None)."""
    if weights in TORCHVISION_SOURCES:
        from torchvision.models import VGG16_Weights, VGG19_Weights

        enum = {"vgg16": VGG16_Weights, "vgg19": VGG19_Weights}[arch]
        if not hasattr(enum, weights):
            choices = ", ".join(w.name for w in enum)
            raise VGGWeightsError(f"torchvision has no {arch} weights {weights!r}; available: {choices}")
        try:
            sd = getattr(enum, weights).get_state_dict(progress=True, check_hash=True)
        except Exception as e:
            raise VGGWeightsError(
                f"could not download torchvision's {arch} {weights} weights ({e.__class__.__name__}: {e}); "
                "offline, pass a local file: --vgg /path/to/vgg16.pth or STYLENET_VGG (commands), "
                "loss.vgg.weights=/path/to/vgg16.pth (training)"
            ) from None
        return sd, TORCHVISION_SOURCES[weights]
    if _is_url(weights):
        try:
            sd = torch.hub.load_state_dict_from_url(weights, progress=True, check_hash=True, weights_only=True)
        except Exception as e:
            raise VGGWeightsError(f"could not fetch VGG weights from {weights}: {e}") from None
        return sd, None
    if not os.path.isfile(weights):
        raise VGGWeightsError(
            f"VGG weights {weights!r} is neither a file nor one of {sorted(TORCHVISION_SOURCES)}; "
            "pass an existing file: --vgg /path/to/vgg16.pth or STYLENET_VGG (commands), "
            "loss.vgg.weights=/path/to/vgg16.pth (training)"
        )
    try:
        if weights.endswith(".safetensors"):
            from safetensors.torch import load_file

            sd = load_file(weights)
        else:
            sd = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as e:  # torch's messages run to several lines of advice for its own API: the first one
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise VGGWeightsError(
            f"could not read VGG weights file {weights} ({e.__class__.__name__}: {first}); "
            "pass a VGG16 state dict (.pth or .safetensors)"
        ) from None
    if not isinstance(sd, dict):
        raise VGGWeightsError(f"VGG weights file {weights} holds a {type(sd).__name__}, not a state dict")
    return sd, None


class VGGFeatures(nn.Module):
    """Frozen VGG ``features`` cut after the deepest tap in use.

    ``forward(x, layers)`` takes images in [0, 1] and returns ``{name: activation}``
    for the requested taps, running only as deep as the deepest of them.
    """

    def __init__(
        self,
        layers: Iterable[str],
        arch: str = "vgg16",
        weights: str = "IMAGENET1K_FEATURES",
        input: str | None = None,
        seed: int = 0,
    ):
        super().__init__()
        if arch not in ARCHS:
            raise VGGWeightsError(f"unknown VGG architecture {arch!r}; available: {', '.join(ARCHS)}")
        names = layer_names(arch)
        layers = list(dict.fromkeys(layers))
        unknown = [n for n in layers if n not in names]
        if unknown:
            raise VGGWeightsError(f"unknown {arch} layer(s) {unknown}; available: {', '.join(names)}")
        n = max(names.index(n) for n in layers) + 1
        self.arch, self.weights, self.names = arch, weights, names[:n]
        self.features = _build_features(arch, n)

        if weights == "random":
            # Explicitly requested (tests); deterministic so that tests are reproducible.
            gen = torch.Generator().manual_seed(seed)
            for m in self.features:
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, generator=gen, nonlinearity="relu")
                    nn.init.zeros_(m.bias)
            implied = None
        else:
            sd, implied = load_vgg_state_dict(arch, weights)
            self._load(sd, weights)
        if implied and input and input != implied:
            raise VGGWeightsError(f"{weights} expects {implied!r} input, not {input!r}; leave loss.vgg.input unset")
        convention = implied or input or "caffe"
        if convention not in CONVENTIONS:
            raise VGGWeightsError(f"unknown VGG input convention {convention!r}; use one of {sorted(CONVENTIONS)}")
        self.convention = convention
        mean, std = CONVENTIONS[convention]
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def _load(self, sd: dict[str, torch.Tensor], source: str) -> None:
        own = self.features.state_dict()
        sd = {k[len("features.") :]: v for k, v in sd.items() if k.startswith("features.")}
        missing = [k for k in own if k not in sd]
        if missing:
            keys = ", ".join(f"features.{k}" for k in missing[:3])
            raise VGGWeightsError(
                f"VGG weights {source} do not match {self.arch}: missing {keys}"
                f"{' ...' if len(missing) > 3 else ''}; expected torchvision's key layout (features.N.weight)"
            )
        for k, v in own.items():
            if tuple(sd[k].shape) != tuple(v.shape):
                raise VGGWeightsError(
                    f"VGG weights {source} do not match {self.arch}: features.{k} has shape "
                    f"{tuple(sd[k].shape)}, expected {tuple(v.shape)}"
                )
        self.features.load_state_dict({k: sd[k].float() for k in own})

    def describe(self) -> str:
        """A short description for model cards: ``vgg16 IMAGENET1K_FEATURES (caffe input)``."""
        src = (
            self.weights
            if (self.weights in TORCHVISION_SOURCES or self.weights == "random")
            else os.path.basename(self.weights)
        )
        return f"{self.arch} {src} ({self.convention} input)"

    def train(self, mode: bool = True) -> VGGFeatures:
        return super().train(False)  # always frozen, whatever the parent does

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        out: dict[str, torch.Tensor] = {}
        weight = self.features[0].weight  # its dtype and layout are the ones to feed (bf16, channels-last)
        h = ((x - self.mean) / self.std).to(weight.dtype)
        if weight.is_contiguous(memory_format=torch.channels_last):
            h = h.contiguous(memory_format=torch.channels_last)
        for name, module in zip(self.names, self.features):
            h = module(h)
            if name in wanted:
                out[name] = h
                if len(out) == len(wanted):
                    break
        return out
