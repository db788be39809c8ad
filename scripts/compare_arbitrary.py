#!/usr/bin/env python
"""Compare arbitrary-style networks on held-out paintings and photos (issue 24): AdaIN decoders, style
predictors, and the predictor's warm start before any training.

  python scripts/compare_arbitrary.py \\
      --network adain=runs/adain/RUN/checkpoints/last.ckpt \\
      --network predictor=runs/predictor/RUN/checkpoints/last.ckpt \\
      --network warm=warm:lstsq --photos 20 --size 256 --json runs/compare_arbitrary.json

``--network LABEL=SOURCE``: an exported file (``adain.safetensors``, ``predictor.safetensors``), a training
checkpoint of either (``last.ckpt``), ``warm:lstsq[:RIDGE]`` / ``warm:mean`` (a predictor warm-started from
``--init`` and its paintings in ``--styles-dir``, no training), or ``rows:FOLDER``: a network trained for
each painting (the issue's 15-CPU-minute classic row, ``train_only=norm``): the row named as the painting's
stem in ``FOLDER/rows.safetensors`` (rows combined by ``scripts/combine_styles.py``), else ``FOLDER/<painting
stem>/<painting stem>.safetensors`` (paintings without one are left out for every
method, so that the means compare the same paintings); ``rows:init``: ``--init``'s own rows, on its own
paintings with ``--classic-paintings`` (issue 24's "the ten classic styles next to the classic
network's rows"); ``optimize:STEPS``: Gatys et al.'s optimization of each output's pixels, STEPS
L-BFGS steps from the photo under the same criterion (the issue's ``optimize:100`` reference). Each network stylizes every held-out
photo (``--photos`` of them, spread over the held-out photos of ``experiment=adain``'s folders, centre
crops of ``--size`` px) in every held-out painting's style (its 20 ``holdout_paintings``), as
``stylenet.stylize(style_image=...)`` does (each network reads the painting at its own size), in fp32.
Measured per pair, the unstylized photo first: content and style loss under the classic network's
criterion (``--init``'s card: its layers and weights; the painting, longer side ``--style-size``,
as its rows were trained), and the palette distance between output and painting
(``stylenet.quality.palette``: sliced Wasserstein in Lab). Lower is better for all three.

``--reuse EARLIER.json`` takes every record an earlier run measured at the same sizes for the same
label and source (pairs of painting and photo) and computes only the rest, so that a comparison grows
painting by painting (a new row, a new method) without measuring again what it has; ``--json`` is
written after every painting, so a stopped run's file serves as ``--reuse`` too. A long comparison splits
across processes by painting (``--paintings 1-10`` in one, ``--paintings 11-20`` in another, each with its
own ``--json``); a last run with ``--reuse A.json --reuse B.json`` then measures nothing and writes the whole.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from stylenet.cli.common import positive_int
from stylenet.errors import StylenetError

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("content", "style", "palette", "seconds")
DEFAULTS = {
    "init": "classic",
    "vgg": str(ROOT.parent / "shared" / "weights" / "vgg16_features_hed.pth"),
}  # older --json files
PHOTO = "photo (unstylized)"


class Rows:
    """``rows:FOLDER``: the network trained on each painting, where there is one: a row named as the painting
    in ``net`` (``FOLDER/rows.safetensors``, ``scripts/combine_styles.py``), else in
    ``FOLDER/<stem>/<stem>.safetensors``; ``rows:init`` (no folder): ``--init``'s own rows, for
    ``--classic-paintings``: the multi-style network's rows next to a painting network on their paintings."""

    def __init__(self, folder: Path | None, net=None, card: dict | None = None):
        self.folder, self.net, self.card = folder, net, card or {"rows": str(folder)}

    @classmethod
    def in_folder(cls, folder: Path) -> Rows:
        import stylenet

        if not folder.is_dir():
            raise StylenetError(f"rows:{folder}: no such folder; give the folder of the rows (rows:wip/rows)")
        combined = folder / "rows.safetensors"
        return cls(folder, stylenet.load(combined) if combined.is_file() else None)

    def file(self, painting: Path) -> Path | None:
        """The painting's own network file, where there is one."""
        file = self.folder / painting.stem / f"{painting.stem}.safetensors" if self.folder else None
        return file if file is not None and file.is_file() else None

    def has(self, painting: Path) -> bool:
        return (self.net is not None and painting.stem in self.net.style_names) or self.file(painting) is not None

    def for_painting(self, painting: Path):
        import stylenet

        if not self.has(painting):
            return None
        net = self.net if self.net is not None and painting.stem in self.net.style_names else None
        net = net or stylenet.load(self.file(painting))
        return stylenet.load(painting.stem, network=net) if net.num_styles else net


class Optimize:
    """``optimize:STEPS``: no network; each output is optimized from the photo (Gatys et al.) under the
    criterion whose style is the painting's."""

    def __init__(self, steps: int):
        self.steps, self.card = steps, {"optimize": {"steps": steps, "method": "lbfgs"}}


def load_network(source: str, vgg: str, init: str, styles_dir: str):
    """An ``AdaINNet`` or ``StylePredictor`` in eval mode from a file, a checkpoint or ``warm:MODE``;
    ``rows:FOLDER``: a ``Rows``."""
    from stylenet.infer import arbitrary

    if source == "rows:init":
        import stylenet

        return Rows(None, stylenet.load(init), {"rows": f"init={init}"})
    if source.startswith("optimize:"):
        steps = source[len("optimize:") :]
        if not steps.isdigit() or int(steps) < 1:
            raise StylenetError(f"--network {source}: use optimize:STEPS with STEPS a whole number, e.g. optimize:100")
        return Optimize(int(steps))
    if source.startswith("rows:"):
        return Rows.in_folder(Path(source[len("rows:") :]))

    if source.startswith("warm:"):
        from stylenet.model.predictor import StylePredictor, warm_start
        from stylenet.styles.load import load
        from stylenet.training.train_predictor import row_paintings

        _, mode, *ridge = source.split(":")  # warm:lstsq, warm:lstsq:0.1 (its ridge), warm:mean
        if mode not in ("lstsq", "mean") or len(ridge) > 1 or (ridge and not _number(ridge[0])):
            raise StylenetError(f"--network {source}: use warm:lstsq, warm:lstsq:RIDGE (a number) or warm:mean")
        classic = load(init)
        net = {k: v for k, v in classic.config.to_dict().items() if k != "num_styles"}
        pred = StylePredictor(net, encoder={"weights": vgg})
        report = warm_start(pred, classic, row_paintings(classic, styles_dir), mode, *map(float, ridge))
        pred.card = {"warm_start": report, "init_weights": init}
        return pred.eval()
    if not source.endswith(".ckpt"):
        return arbitrary.load_decoder(Path(source), vgg)
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
        keys = list(state["state_dict"])
    except Exception as e:  # missing, not a checkpoint, not ours
        raise StylenetError(
            f"--network {source}: not a readable training checkpoint ({e.__class__.__name__})"
        ) from None
    if any(k.startswith("net.transformer.") for k in keys):
        from stylenet.training.predictor_module import predictor_from_checkpoint

        return predictor_from_checkpoint(source, vgg)
    from stylenet.model.adain import AdaINNet

    spec = state["hyper_parameters"]["vgg"]
    net = AdaINNet(spec.get("arch", "vgg16"), vgg or spec["weights"], spec.get("input"))
    net.decoder.load_state_dict({k[len("net.decoder.") :]: v for k, v in state["state_dict"].items()})
    net.card = {"from_checkpoint": source, "steps": state.get("global_step")}
    return net.eval()


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _method(text: str) -> tuple[str, str]:
    label, eq, source = text.partition("=")
    if not eq or not label or not source:
        raise argparse.ArgumentTypeError(
            f"{text}: use LABEL=SOURCE, e.g. predictor=stylenet/styles/predictor.safetensors"
        )
    return label, source


def held_out(photos: int, config: list[str]) -> tuple[list[Path], list[Path]]:
    """``photos`` held-out photos spread over the experiment's held-out photos, and its held-out paintings."""
    from hydra import compose, initialize_config_dir

    import stylenet.training.config  # noqa: F401  (schema and resolvers)
    from stylenet.training.train_adain import pair_data

    with initialize_config_dir(str(ROOT / "stylenet" / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=adain", "paths.output_dir=unused", *config])
    data = pair_data(cfg)  # the training runs' own split
    files = data.holdout_files
    step = max(1, len(files) // photos)
    return files[::step][:photos], data.holdout_painting_files


def painting_range(v: str) -> tuple[int, int]:
    """An argparse type for ``--paintings``: ``N`` (the first N) or ``A-B`` (the A-th to the B-th, from 1)."""
    first, _, last = v.partition("-") if "-" in v else ("1", "", v)
    if not (first.isdigit() and last.isdigit()) or not 1 <= int(first) <= int(last):
        raise argparse.ArgumentTypeError(f"{v}: use N (the first N paintings) or A-B with 1 <= A <= B")
    return int(first), int(last)


def earlier_records(path: str, report: dict) -> dict:
    """``--reuse``: an earlier run's records by (label, painting, photo), for the labels whose source and card
    are the same as now (a file replaced under the same name is measured again), measured with the same
    sizes, criterion (``--init``) and VGG as ``report`` says this run is."""

    try:
        old = json.loads(Path(path).read_text())
        same_run = [(k, old.get(k, DEFAULTS.get(k)), report[k]) for k in ("size", "style_size", "init", "vgg")]
        same = {
            label
            for label, source in old["sources"].items()
            if report["sources"].get(label) == source
            and json.loads(json.dumps(report["cards"].get(label), default=str)) == old["cards"].get(label)
        }
        records = {
            (label, r["painting"], r["photo"]): r
            for label, rs in old["records"].items()
            if label in same | {PHOTO}
            for r in rs
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise StylenetError(f"--reuse {path}: cannot read it ({e!r}); pass a --json file of an earlier run") from None
    for key, was, now in same_run:
        if was != now:
            raise StylenetError(
                f"--reuse {path}: measured with --{key.replace('_', '-')} {was}, not {now}; reuse a run like this one"
            )
    return records


def stylized(net, x: torch.Tensor, painting: Path, own, criterion) -> torch.Tensor:
    """One method's output for one photo and painting."""
    import stylenet

    if isinstance(net, Optimize):
        from stylenet.quality.optimize import optimize

        with torch.enable_grad():
            return optimize(x, None, steps=net.steps, size=None, loss=criterion, precision="fp32", progress=False)
    if own is not None:
        return stylenet.stylize(x, own, precision="fp32")
    return stylenet.stylize(x, style_image=painting, network=net, precision="fp32")


def photo_scores(criterion, x: torch.Tensor, name: str, grams: dict) -> dict:
    """``criterion(x, x)`` for the unstylized photo ``name``, its Gram matrices computed once (``grams``, by
    name) for every painting: only the style term depends on the painting, and the content is 0."""
    from stylenet.loss.perceptual import gram_matrix

    if name not in grams:
        grams[name] = {k: gram_matrix(v) for k, v in criterion.vgg(x, set(criterion.style_layers)).items()}
    return {"content": torch.zeros(()), "style": criterion.gram_terms(grams[name]).mean()}


def photo_tensors(photos: list[Path], size: int) -> list[torch.Tensor]:
    """The held-out photos as ``(1, 3, size, size)`` tensors in [0, 1] (centre crops)."""
    from stylenet.io.photos import load_photo

    return [load_photo(p, size).float().unsqueeze(0) / 255 for p in photos]


@torch.no_grad()
def compare(
    networks: dict,
    photos: list[Path],
    paintings: list[Path],
    criterion,
    size: int,
    style_size: int,
    reuse=None,
    after_painting=None,
) -> dict:
    """Per method, one record per (painting, photo): content, style, palette, seconds; the records in
    ``reuse`` (by label, painting, photo) are taken as they are; ``after_painting(records)`` after each
    painting (the script saves them, so that a stopped run can be reused)."""
    from stylenet.io.images import load_image
    from stylenet.io.progress import progress_bar
    from stylenet.quality.palette import palette_distance

    reuse = reuse or {}
    xs = photo_tensors(photos, size)
    rows: dict[str, list[dict]] = {PHOTO: []}
    photo_grams: dict[str, dict] = {}  # each photo's, for its own scores against every painting
    rows.update({label: [] for label in networks})
    for painting in progress_bar(paintings, desc="paintings", unit="painting"):
        own = {label: net.for_painting(painting) for label, net in networks.items() if isinstance(net, Rows)}
        labels = [PHOTO] + [label for label, net in networks.items() if own.get(label, net) is not None]
        todo = [(p, x) for p, x in zip(photos, xs) if any((lb, painting.name, p.name) not in reuse for lb in labels)]
        if todo:
            target = load_image(painting, style_size)
            criterion.set_style(target)
        for photo, x in zip(photos, xs):
            for label in labels:
                if (label, painting.name, photo.name) in reuse:
                    rows[label].append(reuse[label, painting.name, photo.name])
                    continue
                start = time.perf_counter()
                y = x if label == PHOTO else stylized(networks[label], x, painting, own.get(label), criterion)
                seconds = 0.0 if label == PHOTO else time.perf_counter() - start
                parts = photo_scores(criterion, x, photo.name, photo_grams) if label == PHOTO else criterion(y, x)
                rows[label].append(
                    {
                        "painting": painting.name,
                        "photo": photo.name,
                        "content": float(parts["content"]),
                        "style": float(parts["style"]),
                        "palette": palette_distance(y, target),
                        "seconds": seconds,
                    }
                )
        if after_painting is not None:
            after_painting(rows)
    return rows


def strength_zero(networks: dict, photos: list[Path], size: int, painting: Path) -> dict[str, dict]:
    """``--strength-zero``: how far each painting network's ``strength=0`` output is from the photo (the
    predictor: the photo's own embedding; AdaIN: the decoder's reconstruction of the photo), as mean |out -
    photo| per photo in [0, 1] units; the painting does not matter at strength 0."""
    import stylenet

    xs = photo_tensors(photos, size)
    out = {}
    for label, net in networks.items():
        if isinstance(net, (Rows, Optimize)):
            continue  # no strength in feature space
        d = []
        for x in xs:
            y = stylenet.stylize(x, style_image=painting, network=net, strength=0.0, precision="fp32")
            d.append(float((y - x).abs().mean()))
        out[label] = {"mean": statistics.fmean(d), "max": max(d), "per_photo": dict(zip((p.name for p in photos), d))}
    return out


def summary(rows: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    return {
        label: {m: statistics.fmean(r[m] for r in records) for m in METRICS}
        for label, records in rows.items()
        if records
    }


def per_painting(rows: dict[str, list[dict]]) -> str:
    """A Markdown table: one line per painting, content / style / palette of each method (means over the
    photos), the lowest of the networks' in bold, then the means over all paintings."""
    labels = [label for label, records in rows.items() if records]
    paintings = list(dict.fromkeys(r["painting"] for r in rows[PHOTO]))
    lines = ["| painting | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for name in [*paintings, None]:
        means = {
            label: [statistics.fmean(r[m] for r in rows[label] if name in (None, r["painting"])) for m in METRICS[:3]]
            for label in labels
        }
        best = [min(means[label][i] for label in labels if label != PHOTO) for i in range(3)]
        cells = [
            " / ".join(
                f"**{v:.3g}**" if label != PHOTO and v == best[i] and len(labels) > 2 else f"{v:.3g}"
                for i, v in enumerate(means[label])
            )
            for label in labels
        ]
        lines.append(f"| {f'`{name}`' if name else f'**mean of {len(paintings)}**'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from stylenet.cli.errors import report_errors

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--network", action="append", required=True, type=_method, metavar="LABEL=SOURCE", help="repeat: the methods"
    )
    p.add_argument("--photos", type=positive_int, default=20, help="held-out photos (default 20)")
    p.add_argument(
        "--paintings", type=painting_range, default=None, help="only the first N held-out paintings, or A-B of them"
    )
    p.add_argument("--size", type=positive_int, default=256, help="photo side in pixels (centre crops)")
    p.add_argument(
        "--style-size", type=positive_int, default=256, help="the criterion's painting, longer side (classic: 256)"
    )
    p.add_argument("--vgg", default=DEFAULTS["vgg"])
    p.add_argument("--init", default=DEFAULTS["init"], help="the classic network: its criterion, and warm: starts")
    p.add_argument("--styles-dir", default=str(ROOT.parent / "shared" / "data" / "styles"))
    p.add_argument("--config", action="append", default=["paths=shared"], help="Hydra overrides for the data")
    p.add_argument("--json", help="write every record and the means here (after every painting)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument(
        "--reuse", action="append", metavar="EARLIER.json", help="repeatable: take the records earlier runs measured"
    )
    p.add_argument("--per-painting", action="store_true", help="also print a Markdown table, one line per painting")
    p.add_argument(
        "--strength-zero",
        action="store_true",
        help="also measure how far each painting network's strength-0 output is from the photo",
    )
    p.add_argument(
        "--classic-paintings",
        action="store_true",
        help="score on --init's own paintings (in --styles-dir) instead of the held-out ones; with rows:init",
    )
    a = p.parse_args(argv)
    with report_errors():
        from stylenet.io.files import atomic_write, check_output
        from stylenet.loss.from_card import trained_loss
        from stylenet.loss.perceptual import build_perceptual_loss, loss_config
        from stylenet.styles.load import load

        specs = dict(a.network)
        if len(specs) < len(a.network):
            twice = next(label for label, _ in a.network if [x for x, _ in a.network].count(label) > 1)
            raise StylenetError(f"--network {twice}=...: the label comes twice; give each method its own")
        if a.json and any(Path(a.json).resolve() == Path(r).resolve() for r in a.reuse or []):
            raise StylenetError(
                f"--json {a.json} is a --reuse file: write a new one (records not reached would be lost)"
            )
        if a.json:
            check_output(a.json, a.overwrite)  # before any work
        networks = {label: load_network(src, a.vgg, a.init, a.styles_dir) for label, src in specs.items()}
        cards = {label: getattr(net, "card", {}) for label, net in networks.items()}
        report = {
            "sources": specs,
            "cards": cards,
            "size": a.size,
            "style_size": a.style_size,
            "init": a.init,
            "vgg": a.vgg,
        }
        reuse = {k: r for path in a.reuse or [] for k, r in earlier_records(path, report).items()}
        photos, paintings = held_out(a.photos, a.config)
        paintings = paintings[a.paintings[0] - 1 : a.paintings[1]] if a.paintings else paintings
        if a.classic_paintings:  # the --init network's own paintings (trained on), not the held-out ones
            classic = load(a.init)
            files = {n: classic.card.get("styles", {}).get(n, {}).get("style_image", {}) for n in classic.style_names}
            paintings = [Path(a.styles_dir) / f.get("file", f"{n}.jpg") for n, f in files.items()]
        missing = [p.name for p in paintings if any(isinstance(n, Rows) and not n.has(p) for n in networks.values())]
        if missing:  # every mean over the same paintings: those that each rows: folder has a network for
            print(f"skipped {len(missing)} paintings without a row: {', '.join(missing)}")
            paintings = [p for p in paintings if p.name not in missing]
        if not paintings:
            raise StylenetError("no painting left to compare on (above: the rows: folders lack every one)")
        criterion = build_perceptual_loss(loss_config(a.vgg, **trained_loss(load(a.init).card)))

        zero = strength_zero(networks, photos, a.size, paintings[0]) if a.strength_zero else {}

        def save(rows: dict) -> None:  # after every painting: a stopped run leaves what it measured
            if a.json:
                extra = {"strength_zero": zero} if zero else {}
                with atomic_write(a.json, overwrite=True) as tmp:
                    tmp.write_text(
                        json.dumps({**report, "means": summary(rows), **extra, "records": rows}, indent=1, default=str)
                    )

        rows = compare(networks, photos, paintings, criterion, a.size, a.style_size, reuse, save)
        save(rows)
        for label, z in zero.items():
            print(f"{label}: strength 0 is {z['mean']:.3f} (mean |out - photo|, max {z['max']:.3f}) from the photo")
        print(f"{'method':24s} {'content':>8s} {'style':>8s} {'palette':>8s} {'s/image':>8s}")
        for label, m in summary(rows).items():
            print(f"{label:24s} {m['content']:8.3f} {m['style']:8.3f} {m['palette']:8.2f} {m['seconds']:8.2f}")
        kind = "of --init" if a.classic_paintings else "held-out"
        print(f"(means over {len(paintings)} paintings {kind} x {len(photos)} held-out photos at {a.size} px)")
        if a.per_painting:
            print(per_painting(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
