"""Any painting in one pass, by predicting the classic network's style rows (issue 24's alternative).

Ghiasi et al. 2017, "Exploring the structure of a real-time, arbitrary neural artistic
stylization network", https://arxiv.org/abs/1705.06830: a style-prediction network maps a
painting to the gamma/beta of every conditional-instance-norm layer of a Johnson network
(``stylenet.model.transformer``). Here:

* **statistics**: the painting's channel means and standard deviations at the classic loss's
  style layers (relu1_2, relu2_2, relu3_3, relu4_3 of the frozen VGG16 that the loss already
  runs; 1,920 numbers), standardised by fixed ``shift``/``scale`` buffers;
* **embedding**: a linear bottleneck to ``embedding`` = 100 numbers (Ghiasi's N = 100);
* **gamma/beta**: a linear map from the embedding to every norm layer's gamma and beta. It
  *is* a conditional-instance-norm table: a ``TransformerNet`` with ``embedding + 1`` "styles"
  whose style weights are ``[e_1 .. e_100, 1]`` computes ``gamma = W e + b`` in its norm layers
  (row k of a table: column k of W; the last row: b). So training, fast inference, tiling
  with whole-image statistics, video and ONNX all run the existing network code.

Everything after the VGG is affine, so a weighted mix of paintings (the weighted mean of
their embeddings), Ghiasi's ``strength`` (``e = s * e(painting) + (1 - s) * e(photo)``, the
photo's own embedding at 0: the network's rendering of the photo *as if it were the painting*,
near the photo once trained with ``predictor.identity_weight``) and a mix of gamma/beta rows are
one and the same interpolation.

**Warm start** (``warm_start``) from the shipped ten-style classic network: its convolutions
are copied, and the gamma/beta map is the ridge least-squares fit that sends the ten classic
paintings' embeddings to their own rows (other paintings get a linear blend of the ten rows
around their mean; a small ridge reproduces each classic row, the default ``RIDGE`` shrinks the
blend toward the mean row, which held-out paintings prefer), or (``mode="mean"``) the mean row
with small weights.

A weights file (``save_predictor`` / ``load_predictor``, format ``stylenet-predictor/1``) holds the
network, the bottleneck and the standardisation, a card and a digest of every tensor; the VGG is
rebuilt from the source its header names (``vgg=`` points elsewhere), as for AdaIN. Photos and
clips through a predictor: ``stylenet.infer.predictor``.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import StylenetError
from ..io.weights import WeightsError, read_verified, write_verified
from ..loss.perceptual import DEFAULT_STYLE_LAYERS
from ..loss.vgg import VGGFeatures
from .adain import channel_stats
from .transformer import NetConfig, TransformerNet, _is_table

FORMAT = "stylenet-predictor/1"
LAYERS = tuple(DEFAULT_STYLE_LAYERS)  # the classic loss's style layers: its VGG pass gives them for free
EMBEDDING = 100  # Ghiasi et al.'s bottleneck
STYLE_SIZE = 256  # the painting's shorter side by default (a file records the size it was trained at)
# the warm start's ridge, relative to the mean eigenvalue of the embeddings' Gram matrix: 1e-3 reproduces the
# ten rows (0.03 off at most) but extrapolates wildly for some unseen paintings; 1 shrinks the fit toward the
# mean row and scored best on the 20 held-out paintings before any training (docs/quality.md)
RIDGE = 1.0


class StyleEmbedding(nn.Module):
    """Statistics ``(B, F)`` -> embedding ``(B, D)``: standardise with fixed buffers, then a linear bottleneck."""

    def __init__(self, features: int, embedding: int = EMBEDDING):
        super().__init__()
        self.register_buffer("shift", torch.zeros(features))
        self.register_buffer("scale", torch.ones(features))
        self.bottleneck = nn.Linear(features, embedding)

    def forward(self, stats: torch.Tensor) -> torch.Tensor:
        return self.bottleneck((stats.float() - self.shift) / self.scale)


class StylePredictor(nn.Module):
    """Frozen VGG statistics -> embedding -> the gamma/beta of a conditional-instance-norm ``TransformerNet``.

    ``forward(photo, style, strength)``: ``style`` is paintings ``(N, 3, H, W)`` in [0, 1] or their
    embeddings ``(N, D)`` (N is 1 or the batch size; or ``style_stats``' one-tuple); ``encoder``: a ``VGGFeatures`` to share (the
    training loss's) or its arguments ``{"arch", "weights", "input"}``.
    """

    def __init__(
        self,
        net: dict | None = None,
        embedding: int = EMBEDDING,
        layers: tuple[str, ...] | list[str] = LAYERS,
        encoder: VGGFeatures | dict | None = None,
        style_size: int = STYLE_SIZE,
    ):
        super().__init__()
        self.layers, self.style_size = list(layers), int(style_size)
        if not isinstance(encoder, VGGFeatures):
            encoder = VGGFeatures(self.layers, **(encoder or {}))
        self.encoder = encoder
        self.widths = [2 * encoder.features[encoder.names.index(k) - 1].out_channels for k in self.layers]  # mean, std
        features = sum(self.widths)
        self.embedding = StyleEmbedding(features, embedding)
        config = NetConfig.from_dict({**(net or {}), "num_styles": embedding + 1})
        self.transformer = TransformerNet.from_config(config)
        self.card: dict = {}  # model card of loaded weights

    @property
    def net_config(self) -> dict:
        """The transformer's arguments without its table size (what a file records)."""
        return {k: v for k, v in self.transformer.config.to_dict().items() if k != "num_styles"}

    def statistics(self, images: torch.Tensor, feats: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Channel means and standard deviations ``(B, F)`` at ``layers`` (float32), of ``images`` in [0, 1]
        or of their VGG features ``feats`` (a pass computed for the loss)."""
        feats = feats if feats is not None else self.encoder(images, self.layers)
        parts = [channel_stats(feats[k]) for k in self.layers]
        return torch.cat([t.flatten(1) for pair in parts for t in pair], 1)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(B, D)`` of images ``(B, 3, H, W)`` in [0, 1]."""
        return self.embedding(self.statistics(images))

    @torch.no_grad()
    def style_stats(self, painting: torch.Tensor) -> tuple[torch.Tensor]:
        """A painting's embedding as a one-tuple (``stylenet.infer.arbitrary`` caches and mixes it like AdaIN's statistics)."""
        if min(painting.shape[-2:]) < 8:
            raise ValueError(f"painting of {tuple(painting.shape[-2:])} pixels; at least 8 are needed")
        return (self.embed(painting),)

    def own_embedding(self, photo: torch.Tensor) -> torch.Tensor:
        """A photo's own embedding ``(B, D)`` (Ghiasi's ``strength``)."""
        return self.embedding(self.own_statistics(photo))

    def own_statistics(self, photo: torch.Tensor) -> torch.Tensor:
        """A photo's statistics ``(B, F)`` as its own painting: from the photo resized to a ``style_size``
        square, so that their cost is bounded whatever the photo's size (also in ONNX)."""
        side = (self.style_size, self.style_size)
        small = F.interpolate(photo.float(), size=side, mode="bilinear", antialias=True, align_corners=False)
        return self.statistics(small)

    @staticmethod
    def mix(embedding: torch.Tensor) -> torch.Tensor:
        """The transformer's style weights ``[e, 1]`` for embeddings ``(B, D)``: its norms then compute ``W e + b``."""
        e = embedding.float().reshape(-1, embedding.shape[-1])
        return torch.cat([e, torch.ones_like(e[:, :1])], 1)

    def forward(self, photo: torch.Tensor, style, strength: float | torch.Tensor = 1.0) -> torch.Tensor:
        if isinstance(style, tuple):  # style_stats' one-tuple
            (style,) = style
        e = self.embed(style) if style.dim() == 4 else style
        return self.transformer(photo, self.mix(self.at_strength(photo, e, strength)).expand(photo.shape[0], -1))

    def at_strength(self, photo: torch.Tensor, embedding: torch.Tensor, strength: float | torch.Tensor) -> torch.Tensor:
        """Ghiasi's strength: ``strength * embedding + (1 - strength) * own_embedding(photo)``."""
        if isinstance(strength, (int, float)) and strength == 1:
            return embedding
        return torch.lerp(self.own_embedding(photo), embedding.float(), strength)

    def one_style(self, embedding: torch.Tensor) -> TransformerNet:
        """The plain one-style ``TransformerNet`` for one embedding ``(D,)`` or ``(1, D)`` (what inference runs)."""
        net = self.transformer.single(self.mix(embedding.detach())[0])
        net.card = self.card
        return net


# -- warm start --------------------------------------------------------------------------------
def table_rows(net: TransformerNet) -> torch.Tensor:
    """Every norm layer's gamma and beta table side by side: ``(rows, P)``."""
    state = net.state_dict()
    return torch.cat([state[k].float() for k in state if _is_table(net, k)], 1)


def set_table_rows(net: TransformerNet, rows: torch.Tensor) -> None:
    """Write ``(rows, P)`` back into the tables, in ``table_rows``' order."""
    at = 0
    for key, value in net.state_dict(keep_vars=True).items():
        if _is_table(net, key):
            value.data.copy_(rows[:, at : at + value.shape[1]])
            at += value.shape[1]


@torch.no_grad()
def warm_start(
    pred: StylePredictor,
    classic: TransformerNet,
    paintings: list[torch.Tensor],
    mode: str = "lstsq",
    ridge: float = RIDGE,
    seed: int = 0,
) -> dict[str, float]:
    """Start ``pred`` from a multi-style ``classic`` network and its paintings (one per row, in order).

    Convolutions are copied. The standardisation is set from the paintings' statistics (their mean;
    one scale per layer). ``mode="lstsq"``: the bottleneck keeps its random start and the gamma/beta
    map is the ridge least-squares fit (ridge ``ridge`` times the mean eigenvalue) sending each
    painting's embedding to its own row; ``"mean"``: every row starts at the mean row, with weights
    of 1e-3 (so that gradients reach the bottleneck). Returns the fit's largest error over the
    paintings' rows and the rows' spread, for the card.
    """
    if mode not in ("lstsq", "mean"):
        raise ValueError(f"unknown warm start {mode!r}; use lstsq or mean")
    if len(paintings) != classic.num_styles:
        raise ValueError(f"{len(paintings)} paintings for a network of {classic.num_styles} styles; give one per row")
    own = pred.transformer
    if replace(classic.config, num_styles=0) != replace(own.config, num_styles=0):
        raise ValueError(f"the warm start is a {classic.config} network; the predictor's is {own.config}")
    theirs = classic.state_dict()
    for key, value in own.state_dict(keep_vars=True).items():
        if not _is_table(own, key):
            value.data.copy_(theirs[key])
    stats = torch.cat([pred.statistics(p.to(pred.embedding.shift.device)) for p in paintings]).cpu()
    shift = stats.mean(0)
    centred = stats - shift if len(stats) > 1 else stats
    scale, at = torch.ones_like(shift), 0
    for width in pred.widths:  # one scale per layer (means and deviations together): ten paintings are few
        scale[at : at + width] = centred[:, at : at + width].square().mean().sqrt().clamp_min(1e-6)
        at += width
    emb = pred.embedding
    emb.shift.copy_(shift)
    emb.scale.copy_(scale)
    torch.nn.init.orthogonal_(emb.bottleneck.weight, generator=torch.Generator().manual_seed(seed))
    emb.bottleneck.bias.zero_()
    e = emb(stats.to(shift.device)).cpu().double()
    rows = table_rows(classic).double()
    mean_e, mean_r = e.mean(0), rows.mean(0)
    if mode == "lstsq":
        ec = e - mean_e
        gram = ec @ ec.T
        lam = ridge * float(gram.trace()) / len(gram) + 1e-12
        w = ec.T @ torch.linalg.solve(gram + lam * torch.eye(len(gram), dtype=gram.dtype), rows - mean_r)  # (D, P)
    else:
        w = torch.randn(e.shape[1], rows.shape[1], generator=torch.Generator().manual_seed(seed), dtype=e.dtype) * 1e-3
    b = mean_r - mean_e @ w
    set_table_rows(own, torch.cat([w, b[None]]).float())
    fitted = e @ w + b
    return {
        "fit_max_error": float((fitted - rows).abs().max()),
        "rows_spread": float((rows - mean_r).abs().max()),
    }


# -- weights files -----------------------------------------------------------------------------
def file_tensors(pred: StylePredictor) -> dict[str, torch.Tensor]:
    """The tensors a weights file holds: all but the VGG encoder's, which its header names."""
    return {k: v for k, v in pred.state_dict().items() if not k.startswith("encoder.")}


def same_layout(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    """Whether two sets of tensors (``file_tensors``) are the same network: the same names and shapes."""
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)


def save_predictor(
    pred: StylePredictor, path: str | os.PathLike, card: dict | None = None, overwrite: bool = False, half: bool = False
) -> Path:
    """Write the network, bottleneck and standardisation with a card (atomically); the VGG is named, not stored.
    ``half``: float16 on disk (half the size), float32 again when loaded."""
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in file_tensors(pred).items()}
    enc = pred.encoder
    header = {
        "net": pred.net_config,
        "predictor": {
            "embedding": pred.embedding.bottleneck.out_features,
            "layers": pred.layers,
            "style_size": pred.style_size,
        },
        "encoder": {"arch": enc.arch, "weights": enc.weights, "input": enc.convention},
    }
    return write_verified(path, tensors, FORMAT, header, card, overwrite)


def build_predictor(
    net: dict | None, embedding: int, layers: list[str], encoder: dict, style_size: int, tensors: dict
) -> StylePredictor:
    """A ``StylePredictor`` in eval mode holding ``tensors`` (all but the VGG's, which ``encoder`` names);
    raises ``ValueError`` naming what is missing or does not fit."""
    pred = StylePredictor(net, embedding, layers, encoder, style_size)
    pred.load_state_dict(tensors, strict=False)
    missing = set(file_tensors(pred)) - set(tensors)
    if missing:
        raise ValueError(f"missing tensors {sorted(missing)[:3]}")
    return pred.eval()


def load_predictor(path: str | os.PathLike, vgg: str | None = None) -> StylePredictor:
    """A ``StylePredictor`` in eval mode from a weights file (nothing pickled runs); ``vgg`` replaces the VGG
    weights source its header names. The card is ``pred.card``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such predictor weights file")
    tensors, meta = read_verified(path, FORMAT, "a style-predictor weights file")
    try:
        net, spec, encoder = (json.loads(meta[k]) for k in ("net", "predictor", "encoder"))
        encoder = {**encoder, "weights": vgg or encoder["weights"]}
        pred = build_predictor(net, spec["embedding"], spec["layers"], encoder, spec["style_size"], tensors)
    except StylenetError:  # the VGG weights (``vgg``, $STYLENET_VGG): its own message, not this file's
        raise
    except (KeyError, ValueError, TypeError, RuntimeError) as e:
        raise WeightsError(f"{path}: weights or header do not make a style predictor ({e})") from None
    pred.card = json.loads(meta.get("card", "{}"))
    return pred
