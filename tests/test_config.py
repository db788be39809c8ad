"""Hydra configs: every group option composes, styles resolve to their images, bad choices fail early."""

import json
import subprocess
import sys

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from stylenet.cli.errors import check_group_overrides
from stylenet.training.module import StyleTransferModule
from stylenet.training.train import resolve_style_image, run_name, style_entries, style_name

from conftest import CONFIG_DIR, ROOT, compose_config, needs_shared

STYLES = sorted(p.stem for p in (CONFIG_DIR / "style").glob("*.yaml") if p.stem != "custom")
GROUPS = ["data", "model", "loss", "trainer", "logger", "paths", "styles"]


def test_there_is_a_style_config_for_every_style_image():
    assert len(STYLES) == 14 and {"starry_night", "mosaic", "candy", "udnie", "wave"} <= set(STYLES)


@pytest.mark.parametrize("group", GROUPS)
def test_every_group_option_composes(group, tmp_path):
    for option in sorted((CONFIG_DIR / group).glob("*.yaml")):
        cfg = compose_config([f"{group}={option.stem}", f"paths.output_dir={tmp_path}"])
        OmegaConf.to_container(cfg, resolve=True)


@needs_shared
@pytest.mark.parametrize("style", STYLES)
def test_every_style_config_composes_and_instantiates(style, tmp_path):
    cfg = compose_config([f"style={style}", "paths=shared", f"paths.output_dir={tmp_path}"])
    image, own = resolve_style_image(cfg.style)
    assert own, f"{image} does not match the SHA-256 in configs/style/{style}.yaml"
    assert style_name(cfg.style) == style
    module = StyleTransferModule(
        net=OmegaConf.to_container(cfg.model),
        loss={**OmegaConf.to_container(cfg.loss, resolve=True), "vgg": {"weights": "random"}},
        optim=OmegaConf.to_container(cfg.optim),
        styles=[{"name": style, "image": str(image), "size": 64}],
    )
    module.setup("fit")
    assert module.loss.has_style


def test_defaults_are_the_papers_recipe(tmp_path):
    cfg = compose_config([f"paths.output_dir={tmp_path}"])
    assert cfg.data.image_size == 256 and cfg.data.batch_size == 4 and cfg.optim.lr == 1e-3
    assert list(cfg.loss.content_layers) == ["relu2_2"]
    assert list(cfg.loss.style_layers) == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    assert cfg.loss.vgg.weights == "IMAGENET1K_FEATURES" and cfg.trainer.precision == "auto"


def test_schema_rejects_unknown_keys_and_wrong_types(tmp_path):
    with pytest.raises(ConfigCompositionException):
        compose_config(["data.imagesize=128", f"paths.output_dir={tmp_path}"])
    with pytest.raises(ConfigCompositionException):
        compose_config(["data.image_size=big", f"paths.output_dir={tmp_path}"])


def test_unknown_group_options_are_one_line_errors(capsys):
    with pytest.raises(SystemExit) as e:
        check_group_overrides(CONFIG_DIR, ["style=mosiac"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown style 'mosiac'; available: candy," in err and "style=custom" in err
    check_group_overrides(CONFIG_DIR, ["style=mosaic", "data.root=/x", "trainer=ddp", "experiment=null"])


def test_train_script_reports_bad_input_in_one_line(tmp_path, style_image):
    args = [
        "style=custom",
        f"style.image={style_image}",
        f"data.root={tmp_path}/nothing",
        f"hydra.run.dir={tmp_path}/r",
    ]
    r = subprocess.run([sys.executable, "scripts/train.py", *args], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: data.root") and "nothing' is not a folder" in lines[0]
    assert not (tmp_path / "r" / "checkpoints").exists()


ARBITRARY = ("adain", "predictor")  # their recipes: tests/test_adain.py, tests/test_predictor.py
JOHNSON_EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml") if p.stem not in ARBITRARY)


@pytest.mark.parametrize("experiment", JOHNSON_EXPERIMENTS)
def test_every_experiment_is_a_complete_recipe(experiment, tmp_path):
    cfg = compose_config([f"experiment={experiment}", "style=mosaic", f"paths.output_dir={tmp_path}"])
    assert run_name(cfg) == ("mosaic" if experiment == "johnson" else experiment)  # johnson: any style=
    assert cfg.data.image_size == 256 and cfg.data.batch_size == 4 and cfg.trainer.max_steps == 40000
    assert cfg.data.holdout >= 20 and cfg.export.half


def test_styles_classic_lists_the_ten_shipped_styles_with_their_images(tmp_path):
    cfg = compose_config(["styles=classic", "paths=shared", f"paths.output_dir={tmp_path}"])
    names = [name for name, _ in style_entries(cfg)]
    index = json.loads((ROOT / "stylenet" / "styles" / "index.json").read_text())["styles"]
    assert (
        names
        == sorted(index["classic"]["card"]["styles"])
        == sorted(n for n in index if n != "classic" and index[n]["card"].get("model") != "predictor")
    )
    assert all(node.image.endswith(f"{name}.jpg") for name, node in style_entries(cfg))
    assert run_name(cfg) == "classic" and cfg.optim.table_lr > cfg.optim.lr


def test_each_default_has_one_source(tmp_path):
    from stylenet.cli import build_parser
    from stylenet.loss import perceptual as losses
    from stylenet.loss.from_card import criterion_for
    from stylenet.loss.perceptual import loss_config
    from stylenet.model.transformer import NetConfig, TransformerNet

    cfg = compose_config([f"paths.output_dir={tmp_path}"])
    want = (losses.DEFAULT_CONTENT_WEIGHT, losses.DEFAULT_STYLE_WEIGHT, losses.DEFAULT_TV_WEIGHT)
    assert (cfg.loss.content_weight, cfg.loss.style_weight, cfg.loss.tv_weight) == want
    opt = loss_config("random")
    assert (opt["content_weight"], opt["style_weight"], opt["tv_weight"]) == want
    a = build_parser().parse_args(["optimize", "c.jpg", "--style-image", "s.jpg"])
    assert (a.content_weight, a.style_weight, a.tv_weight) == want
    style = tmp_path / "s.png"
    from conftest import random_image

    random_image(32, 32).save(style)
    crit = criterion_for({}, "random", style, 32)
    assert (crit.content_weight, crit.style_weight, crit.tv_weight) == want
    net_defaults = {k: v for k, v in NetConfig().to_dict().items() if k != "num_styles"}
    assert OmegaConf.to_container(cfg.model) == net_defaults and TransformerNet().config == NetConfig()


def test_every_file_the_experiment_configs_point_to_exists():
    import re

    from conftest import CONFIG_DIR, ROOT

    for f in sorted((CONFIG_DIR / "experiment").glob("*.yaml")):
        for path in re.findall(r"stylenet/styles/[\w.]+", f.read_text()):
            assert (ROOT / path).is_file(), f"{f.name} points to {path}, which does not exist"


def test_the_configs_and_commands_take_their_defaults_from_stylenet_defaults(tmp_path):
    from omegaconf import OmegaConf as OC

    from stylenet import defaults
    from stylenet.cli import build_parser

    cfg = compose_config([f"paths.output_dir={tmp_path}"])
    assert OC.to_container(cfg.guard) == defaults.GUARD and OC.to_container(cfg.optim) == defaults.OPTIM
    assert cfg.style.size == defaults.STYLE_SIZE and cfg.data.image_size == defaults.IMAGE_SIZE
    assert cfg.paths.vgg_weights == defaults.VGG_WEIGHTS and cfg.paths.styles_dir == defaults.STYLES_DIR
    compact = compose_config(["model=compact", f"paths.output_dir={tmp_path}"])
    assert OC.to_container(compact.model) == defaults.COMPACT
    parse = build_parser().parse_args
    video = parse(["video", "clip.mp4", "-s", "mosaic"])
    assert (video.stability, video.denoise, video.blend) == (defaults.STABILITY, defaults.DENOISE, defaults.BLEND)
    from stylenet.infer import arbitrary  # --style-size auto: the network's own, PAINTING_SIZE for AdaIN

    assert video.style_size == parse(["stylize", "x.jpg", "-s", "mosaic"]).style_size == "auto"
    assert arbitrary.STYLE_SIZE == defaults.PAINTING_SIZE
    assert parse(["evaluate", "--style", "mosaic"]).styles_dir == defaults.STYLES_DIR
    assert defaults.trained_sizes({}) == (defaults.IMAGE_SIZE, 2 * defaults.IMAGE_SIZE)
    assert defaults.trained_sizes({"recipe": {"image_size": 128}, "style_image": {"size": 300}}) == (128, 300)
