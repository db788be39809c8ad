#!/usr/bin/env python
"""Ship a trained style predictor as the package's ``predictor`` (any painting in one pass).

  python scripts/ship_predictor.py CKPT --comparison runs/compare.json \
      --vgg ../shared/weights/vgg16_features_hed.pth

CKPT is a checkpoint of ``scripts/train.py experiment=predictor`` (read without running pickled
code); the comparison is ``scripts/compare_arbitrary.py --json`` on that same checkpoint, or on the
run's exported ``predictor.safetensors`` named by ``--label`` (its step is checked). ``--run-card``
is that run's ``card.json`` when it continued a trained predictor (``init_weights=predictor``): its
command and the steps it continued from go into the card (``total_steps``). Writes
``stylenet/styles/predictor.safetensors`` in float16 with a card (recipe, steps, the held-out
comparison) and records its SHA-256 and card in ``stylenet/styles/index.json``. The header names
torchvision's ``IMAGENET1K_FEATURES`` VGG16 (what a user's machine downloads on first use;
``$STYLENET_VGG`` or ``--vgg`` replace it); the predictor was trained with ``--vgg``'s file, the
same Caffe VGG16 lineage.

``--average OTHER.ckpt`` (repeatable; with ``--run-card`` once per checkpoint, in the same order)
ships the uniform average of the checkpoints' weights: for a run and the network it continued,
a point between the two in weight space (Wortsman et al. 2022, WiSE-FT,
https://arxiv.org/abs/2109.01903; model soups, https://arxiv.org/abs/2203.05482). The comparison's
``--label`` must then have measured a weights file with exactly those tensors (checked by digest):
``--write-average OUT`` writes that file (float32) and ships nothing. Each ``--run-card`` must be
its checkpoint's run (its steps are checked).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import torch

from stylenet.cli.errors import report_errors
from stylenet.defaults import VGG_WEIGHTS
from stylenet.errors import StylenetError
from stylenet.io.download import sha256_file
from stylenet.io.weights import read_verified, tensors_digest
from stylenet.model.predictor import FORMAT, StylePredictor, file_tensors, load_predictor, same_layout, save_predictor
from stylenet.training.predictor_module import predictor_from_checkpoint
from stylenet.training.train_predictor import PAPER

PACKAGE = Path(__file__).resolve().parent.parent / "stylenet" / "styles"
NAME = "predictor"


FIRST_RUN = (
    "python scripts/train.py experiment=predictor paths=shared data.image_size=128 "
    "'adain.painting_scale=[1.5,2.5]' train_only=predictor (resumed across sessions)"
)
RIDGE_START = "the classic network's convolutions and a ridge-1 least-squares fit of the map to its ten rows"


def lineage(run_card: dict | None, steps: int) -> dict:
    """The card's command, warm start and step counts: the first run's, or a run that continued a predictor."""
    if run_card is None:
        return {"steps": steps, "command": FIRST_RUN, "warm_start": RIDGE_START}
    if run_card.get("steps") not in (None, steps):
        raise StylenetError(f"--run-card: a card of a {run_card['steps']}-step run, for a checkpoint at step {steps}")
    warm = run_card.get("recipe", {}).get("warm_start")
    if not isinstance(warm, dict) or warm.get("mode") != "predictor" or not isinstance(warm.get("init_steps"), int):
        raise StylenetError("--run-card: not the card of a run that continued a trained predictor (init_weights=)")
    before = warm["init_steps"]
    return {
        "steps": steps,
        "total_steps": before + steps,
        "command": run_card["command"],
        "warm_start": f"the predictor {warm['init_weights']!r} after {before} steps (its start: {RIDGE_START})",
        **({"time_budget": run_card["time_budget"]} if run_card.get("time_budget") else {}),
    }


def measured_steps(comparison: dict, label: str | None) -> int | None:
    """The steps of the network the comparison measured: ``label``'s card (an exported run file), else the
    card of the network it read from a checkpoint."""
    cards = comparison["cards"]
    if label is None:
        return next((c.get("steps") for c in cards.values() if "from_checkpoint" in c), None)
    if label not in cards:
        raise StylenetError(f"--label {label}: the comparison has no such network; its labels: {', '.join(cards)}")
    return cards[label].get("steps")


def card_means(comparison: dict, label: str | None) -> dict:
    """The comparison's means for the card: with ``label``, that network as ``predictor`` beside the photo and
    the networks that are not predictors (the rows); the other candidates stay in the comparison's file."""
    means, cards = comparison["means"], comparison["cards"]
    if label is None:
        return means
    candidate = {k for k, c in cards.items() if (c or {}).get("model") == "predictor" or "from_checkpoint" in (c or {})}
    keep = {k: m for k, m in means.items() if k != label and k not in candidate}
    return {**keep, "predictor": means[label]}


WISE_FT = "https://arxiv.org/abs/2109.01903"
LOSS_WEIGHTS = ("content_weight", "style_weight", "tv_weight")


@functools.cache
def checkpoint_state(ckpt: Path) -> dict:
    """A training checkpoint's contents (tensors and plain data only: nothing pickled runs), read once."""
    return torch.load(ckpt, map_location="cpu", weights_only=True)


def average_into(pred: StylePredictor, others: list[StylePredictor]) -> StylePredictor:
    """``pred`` with the uniform average of its and ``others``' weights (floating tensors), in place."""
    nets = [pred, *others]
    states = [file_tensors(p) for p in nets]
    if not all(same_layout(states[0], s) for s in states[1:]):
        raise StylenetError("--average: the checkpoints are not the same network (tensor names or shapes differ)")
    w = 1.0 / len(nets)
    mean = {k: sum(w * s[k] for s in states) if v.is_floating_point() else v for k, v in states[0].items()}
    pred.load_state_dict(mean, strict=False)
    return pred


def check_measured_tensors(comparison: dict, label: str | None, pred: StylePredictor) -> None:
    """An averaged network is shipped only if the comparison's ``label`` measured a file with its very tensors."""
    if label is None:
        raise StylenetError("--average needs --label: the comparison's network that is this average")
    source = Path(comparison["sources"].get(label, ""))
    if not source.is_file():
        raise StylenetError(f"--label {label}: its source {str(source)!r} is not a weights file on this machine")
    measured, _ = read_verified(source, FORMAT, "a style-predictor weights file")
    if tensors_digest(measured) != tensors_digest(file_tensors(pred)):
        raise StylenetError(f"--label {label}: {source} does not hold the average of these checkpoints")


def card_loss(loss: dict, averaged: list[dict] | None, identity_weight: float = 0.0) -> dict:
    """The loss settings (with the predictor's identity term where it trained with one); a weight the averaged
    runs differ on is their list, in ``average.of``'s order."""
    out = {k: v for k, v in loss.items() if k not in ("stability", "adversarial", "vgg")}
    if identity_weight:
        out["identity_weight"] = identity_weight
    for k in (*LOSS_WEIGHTS, "identity_weight"):
        values = [a["loss"][k] for a in averaged or []]
        if len(set(values)) > 1:
            out[k] = values
    return out


def card_strength_zero(comparison: dict, label: str | None) -> dict:
    """``compare_arbitrary.py --strength-zero``'s figures for the shipped network, where the comparison has them."""
    zero = comparison.get("strength_zero", {}).get(label)
    if not zero:
        return {}
    what = "mean |strength-0 output - photo| over the held-out photos, pixels in [0, 1]"
    return {"strength_zero": {"mean": round(zero["mean"], 4), "max": round(zero["max"], 4), "what": what}}


def card_for(
    ckpt: Path,
    comparison: dict,
    fp16_error: dict,
    run_card: dict | None = None,
    label: str | None = None,
    averaged: list[dict] | None = None,
) -> dict:
    """The shipped card; ``averaged``: each averaged checkpoint's steps, lineage and loss (``ckpt``'s first)."""
    state = checkpoint_state(ckpt)
    hp = state["hyper_parameters"]
    run = lineage(run_card, state["global_step"])
    if averaged:
        run["total_steps"] = max(a.get("total_steps", a["steps"]) for a in averaged)
    means = card_means(comparison, label)
    first = next(iter(comparison["records"].values()))
    paintings, photos = len({r["painting"] for r in first}), len({r["photo"] for r in first})
    return {
        "model": "predictor",
        "name": NAME,
        "paper": PAPER,
        "steps": run["steps"],
        **({"total_steps": run["total_steps"]} if "total_steps" in run else {}),
        "recipe": {
            "command": run["command"],
            "warm_start": run["warm_start"],
            **({"time_budget": run["time_budget"]} if "time_budget" in run else {}),
            "train_only": hp["train_only"],
            "optim": hp["optim"],
            "style_size": hp["predictor"]["style_size"],
        },
        "loss": card_loss(hp["loss"], averaged, hp["predictor"].get("identity_weight", 0.0)),
        "vgg": f"trained with {Path(hp['loss']['vgg']['weights']).name}; the header names {VGG_WEIGHTS}",
        "evaluation": {
            "what": f"means over {paintings} held-out paintings x {photos} held-out photos at "
            f"{comparison['size']} px (paintings at {comparison['style_size']} px), the classic loss; palette: "
            "sliced Wasserstein distance in Lab to the painting (stylenet.palette); "
            "scripts/compare_arbitrary.py",
            "means": {k: {t: round(v, 4) for t, v in m.items()} for k, m in means.items()},
            **card_strength_zero(comparison, label),
        },
        **({"average": {"paper": WISE_FT, "of": averaged}} if averaged else {}),
        "float16": fp16_error,
        "note": "interim: training continues (issue 24); the held-out paintings are listed in docs/quality.md",
    }


def averaged_lineages(ckpts: list[Path], run_cards: list[dict | None]) -> list[dict]:
    """Each averaged checkpoint's entry in the card: its steps, lineage and loss weights."""
    out = []
    for ckpt, card in zip(ckpts, run_cards):
        state = checkpoint_state(ckpt)
        run = lineage(card, state["global_step"])
        loss = state["hyper_parameters"]["loss"]
        weights = {k: loss[k] for k in LOSS_WEIGHTS}
        weights["identity_weight"] = state["hyper_parameters"]["predictor"].get("identity_weight", 0.0)
        run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
        out.append({"run": run_dir.name, **run, "loss": weights})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--comparison", help="scripts/compare_arbitrary.py --json of this checkpoint (required to ship)")
    p.add_argument("--vgg", required=True, help="the VGG16 weights file the predictor was trained with")
    p.add_argument("--label", help="the comparison's label for this run's exported predictor.safetensors")
    p.add_argument(
        "--run-card",
        action="append",
        help="the run's card.json, when it continued a trained predictor (with --average: one per checkpoint)",
    )
    p.add_argument("--average", action="append", default=[], metavar="CKPT", help="ship the average with these")
    p.add_argument(
        "--write-average",
        metavar="OUT",
        help="only write the average (float32) to OUT, for scripts/compare_arbitrary.py to measure; ships nothing",
    )
    a = p.parse_args(argv)
    with report_errors():
        if a.write_average and not a.average:
            raise StylenetError("--write-average: give the checkpoints to average with --average")
        if not a.write_average and not a.comparison:
            raise StylenetError("--comparison: required to ship (scripts/compare_arbitrary.py --json of this network)")
        ckpt = Path(a.checkpoint)
        pred = predictor_from_checkpoint(ckpt, a.vgg, checkpoint_state(ckpt))
        ckpts = [ckpt, *map(Path, a.average)]
        cards = [json.loads(Path(c).read_text()) for c in a.run_card or []]
        if a.average and len(cards) != len(ckpts):
            raise StylenetError(f"--average: give --run-card once per checkpoint ({len(ckpts)}), got {len(cards)}")
        if len(cards) > 1 and not a.average:
            raise StylenetError("--run-card: once, for the checkpoint (or once per checkpoint with --average)")
        averaged = None
        if a.average:
            average_into(pred, [predictor_from_checkpoint(c, a.vgg, checkpoint_state(c)) for c in ckpts[1:]])
            averaged = averaged_lineages(ckpts, cards)
            if a.write_average:
                out = save_predictor(pred, a.write_average, {"model": "predictor", "average": {"of": averaged}})
                print(f"wrote {out} (the average of {len(ckpts)} checkpoints; measure it, then ship with --label)")
                return 0
        comparison = json.loads(Path(a.comparison).read_text())
        if a.average:
            check_measured_tensors(comparison, a.label, pred)
        else:
            steps = measured_steps(comparison, a.label)
            if steps != pred.card["steps"]:
                raise StylenetError(f"{a.comparison} measured step {steps}, {ckpt} is step {pred.card['steps']}")
        out = PACKAGE / f"{NAME}.safetensors"
        pred.encoder.weights = VGG_WEIGHTS  # the header's VGG: what a user's machine has
        photo, painting = torch.rand(1, 3, 96, 128), torch.rand(1, 3, 128, 128)
        with torch.no_grad():
            full = pred(photo, painting)
            save_predictor(pred, out, {}, overwrite=True, half=True)
            err = (load_predictor(out, a.vgg)(photo, painting) - full).abs() * 255
        fp16_error = {"max_over_255": round(float(err.max()), 3), "mean_over_255": round(float(err.mean()), 4)}
        card = card_for(ckpt, comparison, fp16_error, cards[0] if cards else None, a.label, averaged)
        save_predictor(pred, out, card, overwrite=True, half=True)
        index_file = PACKAGE / "index.json"
        index = json.loads(index_file.read_text())
        index["styles"][NAME] = {"file": out.name, "sha256": sha256_file(out), "card": card}
        index_file.write_text(json.dumps(index, indent=2) + "\n")
        step = card.get("total_steps", card["steps"])  # a continued run's: the whole lineage's
        print(f"shipped {out} ({out.stat().st_size / 1e6:.1f} MB, step {step}, float16 error {fp16_error})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
