"""User-facing weights files: safetensors tensors plus a self-describing header.

A stylenet weights file is a safetensors file (no pickled code runs on load)
whose metadata holds:

* ``format``: ``"stylenet/1"``;
* ``net``: the ``TransformerNet`` arguments (JSON);
* ``styles``: a multi-style network's style names, in the order of its table rows (JSON);
* ``card``: the model card (JSON): style, image credit and licence, recipe,
  loss weights, VGG used, training data, steps, final losses, ...; a multi-style
  network's card holds one block per style under ``styles``;
* ``tensors_sha256``: a digest of every tensor's name, dtype, shape and bytes,
  checked on every load, so a corrupted or truncated file is an error and never a
  silently different network. (Whoever edits a file can rewrite this digest too:
  only the registry's SHA-256 of the whole file protects against tampering.)

Lightning ``.ckpt`` files are for resuming training; these are for users.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from ..errors import StylenetError
from ..model.transformer import NetConfig, TransformerNet
from .files import atomic_write

FORMAT = "stylenet/1"
# the formats of the networks that take a painting as input (stylenet.model.adain, .predictor)
ARBITRARY = {"stylenet-adain/1": "an AdaIN decoder", "stylenet-predictor/1": "a style predictor"}


class WeightsError(StylenetError):
    """A weights file that cannot be used; the message names the file and the problem."""


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_weights(
    net: TransformerNet,
    path: str | os.PathLike,
    card: dict | None = None,
    half: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write ``net`` and its card to ``path`` atomically; refuses to replace a file unless asked."""
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.to(dtype) for k, v in net.state_dict().items()}
    header = {"net": net.config.to_dict(), "styles": list(net.style_names)}
    return write_verified(path, tensors, FORMAT, header, card, overwrite)


def write_verified(
    path: str | os.PathLike, tensors: dict, fmt: str, header: dict, card: dict | None, overwrite: bool = False
) -> Path:
    """Write ``tensors`` (on the CPU) atomically with a header that ``read_verified`` checks: ``format``
    ``fmt``, each ``header`` field as JSON, the card and the tensors' digest. Refuses to replace a file unless asked."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {"format": fmt, **{k: json.dumps(v) for k, v in header.items()}}
    meta.update(card=json.dumps(card or {}, sort_keys=True), tensors_sha256=tensors_digest(tensors))
    with atomic_write(path, overwrite) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return Path(path)


def read_verified(path: Path, fmt: str, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, header) of a safetensors file whose header says ``fmt`` and whose tensors match the
    digest it records; anything else is a one-line ``WeightsError`` (``what`` names the kind expected)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        raise WeightsError(f"{path}: truncated or corrupt weights file ({e.__class__.__name__}: {e})") from None
    if meta.get("format") != fmt:
        hint = ""
        if fmt == FORMAT and meta.get("format") in ARBITRARY:  # a painting network where a style network was asked
            hint = (
                f": it is {ARBITRARY[meta['format']]}, which takes the style as a painting: "
                f"stylize(photo, style_image='painting.jpg', network='{path}') or --style-image"
            )
        raise WeightsError(f"{path}: not {what} (format {meta.get('format')!r}, expected {fmt!r}){hint}")
    if tensors_digest(tensors) != meta.get("tensors_sha256"):
        raise WeightsError(f"{path}: tensor data does not match the digest in its header (corrupted or tampered)")
    return tensors, meta


def file_format(path: str | os.PathLike) -> str | None:
    """The ``format`` a safetensors file's header names (None: not a readable safetensors file)."""
    from safetensors import safe_open

    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            return (f.metadata() or {}).get("format")
    except Exception:
        return None


def read_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """(tensors, net arguments, card) of a weights file, verified; raises ``WeightsError``."""
    path = Path(path)
    if path.is_dir():
        raise WeightsError(f"{path}: is a folder; give a .safetensors weights file")
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    if path.suffix == ".ckpt":
        raise WeightsError(
            f"{path}: is a Lightning checkpoint (for resuming training); use the .safetensors file "
            "exported next to it, or run: stylenet export CKPT -o weights.safetensors"
        )
    tensors, meta = read_verified(path, FORMAT, "a stylenet weights file")
    try:
        net_args = json.loads(meta["net"])
        card = json.loads(meta.get("card", "{}"))
        names = json.loads(meta.get("styles", "[]"))
    except (KeyError, json.JSONDecodeError) as e:
        raise WeightsError(f"{path}: malformed header ({e})") from None
    if names:
        net_args["style_names"] = names
    return tensors, net_args, card


def build_net(tensors: dict[str, torch.Tensor], net_args: dict, source: object = "weights") -> TransformerNet:
    """A float32 ``TransformerNet`` with these weights; a mismatch is a ``WeightsError``.

    ``net_args``: the network arguments, and ``style_names`` for a multi-style network.
    """
    net_args = dict(net_args)
    names = list(net_args.pop("style_names", None) or [])
    try:
        net = TransformerNet.from_config(NetConfig.from_dict(net_args))
    except (TypeError, ValueError) as e:
        raise WeightsError(f"{source}: bad network arguments {net_args}: {e}") from None
    if net.num_styles and len(names) != net.num_styles:
        raise WeightsError(f"{source}: a {net.num_styles}-style network whose header names {len(names)} styles")
    net.style_names = names
    own = net.state_dict()
    missing, unexpected = sorted(set(own) - set(tensors)), sorted(set(tensors) - set(own))
    wrong = [k for k in own if k in tensors and tuple(tensors[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        detail = "; ".join(
            f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
            for what, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if keys
        )
        raise WeightsError(f"{source}: weights do not match TransformerNet({net_args}) ({detail})")
    net.load_state_dict({k: v.float() for k, v in tensors.items()})
    return net.eval()


def load_weights(path: str | os.PathLike) -> tuple[TransformerNet, dict]:
    """(network in eval mode, card) from a weights file."""
    tensors, net_args, card = read_weights(path)
    return build_net(tensors, net_args, path), card


def checkpoint_to_weights(ckpt: str | os.PathLike, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Export the network of a Lightning checkpoint (loaded without running pickled code)."""
    try:
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        hp = state["hyper_parameters"]
        tensors = {k[len("net.") :]: v for k, v in state["state_dict"].items() if k.startswith("net.")}
    except Exception as e:
        raise WeightsError(f"{ckpt}: not a readable stylenet checkpoint ({e.__class__.__name__}: {e})") from None
    net = build_net(tensors, {**hp["net"], "style_names": hp.get("style_names")}, ckpt)
    trained = hp.get("styles") or [hp.get("style") or {}]  # (older checkpoints: one "style")
    ckpt = Path(ckpt)
    # a multi-style network's name: the run's (older checkpoints: their run folder's, runs/NAME/RUN/checkpoints/)
    run = ckpt.parent.parent.parent.name if ckpt.parent.name == "checkpoints" else ckpt.stem
    card = {
        "style": trained[0].get("name") if len(trained) == 1 and not net.num_styles else hp.get("name") or run,
        "steps": state.get("global_step"),
        "from_checkpoint": str(ckpt),
    }
    if net.num_styles:
        card["styles"] = {n: {} for n in net.style_names}
    return save_weights(net, path, card, overwrite=overwrite)
