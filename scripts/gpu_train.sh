#!/usr/bin/env bash
# A full training recipe on one GPU, in one device-tool call of at most TOTAL seconds (default 450;
# the tool's limit is 600), continuing a shipped network, with everything that matters under $OUT.
#   RECIPE=classic (default): experiment=classic, the ten styles in one network at 256 px, from the
#                             shipped classic network (issue 23);
#   RECIPE=predictor:         experiment=predictor, any painting in one pass (Ghiasi et al. 2017), 256 px
#                             crops, paintings from data/paintings and data/styles less the 20 held-out
#                             ones, from the shipped predictor (INIT=classic: the ridge warm start) (issue 24).
#
# 1. Here, once (about a minute): stage what the device lacks into .gpu/ of the checkout the
#    device tool sends (the session's own checkout; ../shared does not travel, the machine has
#    no registry and no Hydra), for the recipe to run (photos_more only for classic: 64 MiB):
#        python scripts/gpu_stage.py [--recipe predictor] [--into /that/checkout/.gpu]
#    It prints the transfer's size (64 MiB at most). Then a dry run here, on the CPU:
#        DRY=1 [RECIPE=predictor] bash scripts/gpu_train.sh    # 3 steps at 64 px, OUT=/tmp/gpu_<recipe>_dry
# 2. The device call (one call; the machine's start takes a minute or two more):
#        run(command="bash scripts/gpu_train.sh", carry=[".gpu"], timeout_s=540)
#        run(command="RECIPE=predictor bash scripts/gpu_train.sh", carry=[".gpu"], timeout_s=540)
#    (the checkout's own code runs, with .gpu/ beside it; gpu_stage.py --src stages a copy of the code in
#    .gpu/src/ for a call from another checkout: bash .gpu/src/scripts/gpu_train.sh)
#    It trains for what TOTAL leaves after start-up and a RESERVE for the final validation, the
#    export, a 1080p inference timing and packing (the steps that fit are measured after
#    warm-up and become max_steps and the cosine schedule's length: time_budget), then
#    returns under files_at:
#        run/<classic|predictor>.safetensors, run/card.json   the exported network and its card
#        steps_per_second.txt                     steps/s, images/s, batch, precision, GPU; 1080p frames/s
#        train.log                                everything printed, and the summary
#        run.tar.00 [run.tar.01 ...]              the whole run folder (checkpoints/last.ckpt,
#                                                 tensorboard/, .hydra/, card, weights), in 15 MiB parts
#    (the tool returns 8 files of 16 MiB at most, two folders deep). Give the machine back after.
# 3. Here, after it (the summary prints the command):
#        classic: ship the rows that beat today's (evaluates on the held-out photos, ~minutes):
#            python scripts/ship_styles.py <files_at>/run --vgg ../shared/weights/vgg16_features_hed.pth
#        predictor: unpack, compare with the shipped predictor on the held-out paintings, ship if better:
#            mkdir -p runs/gpu && cat <files_at>/run.tar.* | tar -x -C runs/gpu      # runs/gpu/run/...
#            python scripts/compare_arbitrary.py --network shipped=stylenet/styles/predictor.safetensors \
#                --network gpu=runs/gpu/run/checkpoints/last.ckpt --photos 4 --size 128 --json runs/gpu/compare.json
#            python scripts/ship_predictor.py runs/gpu/run/checkpoints/last.ckpt --comparison runs/gpu/compare.json \
#                --vgg ../shared/weights/vgg16_features_hed.pth --run-card runs/gpu/run/card.json
#
# Settings (environment): RECIPE=classic TOTAL=450 RESERVE=100 BATCH=16 WORKERS=12 SIZE=256 COMPILE=false
# DEVICE=cuda PREVIEW=2000 (steps between previews and held-out losses) CKPT=1000 WARMUP=50
# MAX_STEPS=40000 (the recipe's cap) INIT=<the shipped network of the recipe> PYTHON=python3 OUT=...
# STAGE=<the .gpu folder> (default: found beside this script; STAGE=none or none found: ../shared, or
# SHARED=..., is read directly). DRY=1: STEPS=3 SIZE=64 DEVICE=cpu BATCH=2 WORKERS=0 HOLDOUT=4, style
# images at 64 px, fp32 on this CPU, OUT=/tmp/gpu_<recipe>_dry by default.
set -uo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRY=${DRY:-0}
case "$DRY" in 0 | 1) ;; *) echo "error: DRY=$DRY: use 1 (the tiny CPU run) or 0" >&2; exit 2 ;; esac
RECIPE=${RECIPE:-classic}
case "$RECIPE" in classic | predictor) ;; *) echo "error: RECIPE=$RECIPE: use classic or predictor" >&2; exit 2 ;; esac
if [ "$DRY" = 1 ]; then
  STEPS=${STEPS:-3} SIZE=${SIZE:-64} DEVICE=${DEVICE:-cpu} BATCH=${BATCH:-2} WORKERS=${WORKERS:-0}
  STYLE_SIZE=${STYLE_SIZE:-64} OUT=${OUT:-/tmp/gpu_${RECIPE}_dry} TOTAL=${TOTAL:-900} WARMUP=${WARMUP:-1}
  HOLDOUT=${HOLDOUT:-4}  # the final validation runs every style on every held-out photo: 4, not 16, here
  PYTHON=${PYTHON:-$( [ -x /work/main/.venv/bin/python ] && echo /work/main/.venv/bin/python || echo python3)}
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
fi
TOTAL=${TOTAL:-450} RESERVE=${RESERVE:-100} BATCH=${BATCH:-16} WORKERS=${WORKERS:-12} SIZE=${SIZE:-256}
COMPILE=${COMPILE:-false} DEVICE=${DEVICE:-cuda} PREVIEW=${PREVIEW:-2000} CKPT=${CKPT:-1000} WARMUP=${WARMUP:-50}
MAX_STEPS=${STEPS:-${MAX_STEPS:-40000}} STYLE_SIZE=${STYLE_SIZE:-512} PYTHON=${PYTHON:-python3}
[ -n "${OUT:-}" ] || { echo "error: OUT is not set: the device tool sets it; here, DRY=1 (or OUT=/some/folder)" >&2; exit 2; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOG=$OUT/train.log
: >"$LOG"
say() { echo "$*" | tee -a "$LOG"; }

# -- where the data is: a staged .gpu folder (scripts/gpu_stage.py), else ../shared -------------
if [ -z "${STAGE:-}" ]; then
  for c in "$SRC/.." "$SRC/.gpu"; do
    if [ -f "$c/vgg/vgg16_features_hed.pth" ]; then STAGE=$(cd "$c" && pwd); break; fi
  done
fi
[ "${STAGE:-}" = none ] && STAGE=  # STAGE=none: read ../shared even where a .gpu folder is staged
if [ -n "${STAGE:-}" ]; then
  PHOTOS=$STAGE/photos MORE=$STAGE/photos_more STYLES=$STAGE/styles VGG=$STAGE/vgg/vgg16_features_hed.pth
  PAINTINGS=$STAGE/paintings SITE=$STAGE/site
else
  SHARED=${SHARED:-$SRC/../shared}
  PHOTOS=$SHARED/data/photos MORE=$SHARED/data/photos_more STYLES=$SHARED/data/styles
  VGG=$SHARED/weights/vgg16_features_hed.pth PAINTINGS=$SHARED/data/paintings SITE=
fi
export PYTHONPATH=$SRC${SITE:+:$SITE}${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
say "gpu_train ($RECIPE): src $SRC, data ${STAGE:-$SHARED}, out $OUT, python $PYTHON, dry=$DRY"

# -- 1. the environment ---------------------------------------------------------------------------
"$PYTHON" - <<'EOF' 2>&1 | tee -a "$LOG"
import torch, pytorch_lightning, hydra, omegaconf, tensorboard, safetensors, PIL, stylenet
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
print(f"torch {torch.__version__}, lightning {pytorch_lightning.__version__}, hydra {hydra.__version__}, {gpu}; "
      f"stylenet {stylenet.__version__} from {stylenet.__file__}")
EOF
[ "${PIPESTATUS[0]}" = 0 ] || { say "error: the environment lacks a package (above); stage .gpu/site again"; exit 2; }
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$LOG"
TRAINER=gpu
[ "$DEVICE" = cpu ] && TRAINER=cpu
ARGS=()
[ -n "${HOLDOUT:-}" ] && ARGS+=("data.holdout=$HOLDOUT")
if [ "$RECIPE" = classic ]; then  # ten styles at STYLE_SIZE; photos_more as extra training photos
  NAME=classic INIT=${INIT:-$SRC/stylenet/styles/classic.safetensors}
  ARGS+=(experiment=classic "styles.size=$STYLE_SIZE")
  [ -d "$MORE" ] && ARGS+=("data.extra_roots=[$MORE]")
else  # the painting's scale follows the crop (adain.painting_scale); photos_more is one of adain.photos
  NAME=predictor INIT=${INIT:-$SRC/stylenet/styles/predictor.safetensors}
  [ -d "$PAINTINGS" ] || { say "error: no paintings in $PAINTINGS: stage with python scripts/gpu_stage.py --recipe predictor"; exit 2; }
  ARGS+=(experiment=predictor "paths.paintings=$PAINTINGS")
  if [ -d "$MORE" ]; then ARGS+=("paths.photos_more=$MORE"); else ARGS+=("adain.photos=[$PHOTOS]"); fi
  [ "$DRY" = 1 ] && ARGS+=(adain.holdout_pairs=2)
fi

# -- 2. train: the time left after start-up and RESERVE ------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_$RECIPE.XXXXXX")
RUN=$WORK/run
BUDGET=$((TOTAL - RESERVE - SECONDS))
[ "$BUDGET" -gt 0 ] || { say "error: TOTAL=$TOTAL leaves no time to train after RESERVE=$RESERVE and ${SECONDS}s of start-up"; exit 2; }
HARD=$((TOTAL - SECONDS - 40))  # the backstop: SIGTERM writes last.ckpt (no export then)
say "training: batch $BATCH, ${SIZE} px, workers $WORKERS, compile $COMPILE, time budget ${BUDGET}s, at most $MAX_STEPS steps"
timeout --signal=TERM --kill-after=20 "$HARD" "$PYTHON" "$SRC/scripts/train.py" \
  paths=shared "paths.photos=$PHOTOS" "paths.styles_dir=$STYLES" "paths.vgg_weights=$VGG" \
  "${ARGS[@]}" "init_weights=$INIT" \
  trainer=$TRAINER "data.batch_size=$BATCH" "data.num_workers=$WORKERS" "data.image_size=$SIZE" \
  "trainer.max_steps=$MAX_STEPS" "time_budget=$BUDGET" "time_budget_warmup_steps=$WARMUP" \
  "compile=$COMPILE" "preview_every_n_steps=$PREVIEW" "checkpoint_every_n_steps=$CKPT" \
  trainer.log_every_n_steps=25 trainer.enable_progress_bar=false \
  "paths.runs_dir=$WORK" "hydra.run.dir=$RUN" 2>&1 | tee -a "$LOG"
TRAIN_RC=${PIPESTATUS[0]}
say "training exited with status $TRAIN_RC after ${SECONDS}s of this script"

# -- 3. speed figures: training (from the card) and 1080p inference --------------------------------
"$PYTHON" - "$RUN" "$OUT/steps_per_second.txt" "$BATCH" "$DEVICE" "$DRY" "$NAME" "$VGG" <<'EOF' 2>&1 | tee -a "$LOG"
import json, sys, time
from pathlib import Path
import torch
run, dest, batch, device, dry = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"
name, vgg = sys.argv[6], sys.argv[7]
lines = []
card = json.loads((run / "card.json").read_text()) if (run / "card.json").is_file() else None
if card:
    b = card.get("time_budget") or {}
    rate = b.get("steps_per_second")
    overall = card["steps"] / card["train_seconds"] if card.get("train_seconds") else None
    lines += [
        f"hardware: {card.get('hardware')}",
        f"precision: {card['recipe']['precision']} (asked: {card['recipe'].get('precision_asked')})",
        f"batch: {batch}, crops: {card['recipe'].get('image_size', '?')} px",
        f"steps: {card['steps']} (planned {b.get('planned_steps')}; stopped at the deadline: {b.get('stopped_at_deadline')}); "
        f"total steps behind the network: {card.get('total_steps')}",
        f"steps_per_second (after warm-up; validation, previews and checkpoints included): {rate}",
        f"images_per_second: {rate * batch:.1f}" if rate else "images_per_second: n/a",
        f"steps_per_second over the whole run (start-up, final validation and export included): {overall:.3f}" if overall else "",
        f"final held-out losses: " + ", ".join(f"{k}={v:.4g}" for k, v in card["final_losses"].items() if k in ("holdout_content", "holdout_style", "holdout_total")),
    ]
else:
    lines.append("no card.json: the run did not export (see train.log)")
weights = run / f"{name}.safetensors"
if weights.is_file():
    try:
        import stylenet
        from stylenet.infer.runner import Runner
        dev = torch.device(device)
        sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
        h, w = (108, 192) if dry else (1080, 1920)
        x = torch.rand(1, 3, h, w)
        n = 3 if dry else 30
        def rate(call):
            for _ in range(3):
                call()
            sync()
            t = time.perf_counter()
            for _ in range(n):
                call()
            sync()
            return n / (time.perf_counter() - t)
        if name == "predictor":  # the painting's statistics cached after the first call, as for a clip
            from stylenet.infer.arbitrary import load_decoder
            pred = load_decoder(str(weights), vgg).to(dev)
            art = torch.rand(1, 3, 256, 256)
            host = rate(lambda: stylenet.stylize(x, style_image=art, network=pred, device=dev))
            lines.append(f"inference {w}x{h}, the predictor with a cached painting, batch 1, {n} frames after 3 warm-ups: "
                         f"{host:.1f} frames/s from a CPU float tensor back to a CPU float tensor (stylenet.stylize)")
        else:
            from stylenet.styles.mix import select
            net = stylenet.load(str(weights))
            net = select(net, {net.style_names[0]: 1.0}) if net.num_styles else net
            runner = Runner(dev, "auto")
            host = rate(lambda: runner(net, x))
            fast = runner.fast(net)
            xd = x.to(dev, torch.bfloat16 if runner.bf16 else torch.float32).contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                resident = rate(lambda: fast(xd))
            p = "bf16" if runner.bf16 else "fp32"
            lines.append(f"inference {w}x{h}, one style row, stylenet fast path {p}, batch 1, {n} frames after 3 warm-ups: "
                         f"{resident:.1f} frames/s with the frame on the {dev.type} (network only), "
                         f"{host:.1f} frames/s from a CPU float tensor back to a CPU float tensor (stylenet.infer.runner.Runner)")
    except Exception as e:  # a figure, not the run: report and go on
        lines.append(f"inference timing failed: {e.__class__.__name__}: {e}")
dest.write_text("\n".join(l for l in lines if l) + "\n")
print("\n".join(l for l in lines if l))
EOF

# -- 4. what comes back: at most 8 files of 16 MiB, two folders deep --------------------------------
mkdir -p "$OUT/run"
for f in card.json "$NAME.safetensors"; do [ -f "$RUN/$f" ] && cp "$RUN/$f" "$OUT/run/"; done
if [ -d "$RUN" ]; then
  (cd "$WORK" && tar -cf - --exclude='run/checkpoints/step*.ckpt' run) | split -b 15M -d -a 2 - "$OUT/run.tar."
fi
N=$(find "$OUT" -type f | wc -l)
say ""
say "== summary ($((SECONDS))s) =="
[ -f "$OUT/steps_per_second.txt" ] && tee -a "$LOG" <"$OUT/steps_per_second.txt"
(cd "$OUT" && find . -type f -printf '%p %s\n' | sort) | tee -a "$LOG"
[ "$N" -le 8 ] || say "warning: $N files under OUT; the device tool returns 8"
[ -f "$OUT/run/$NAME.safetensors" ] || { say "no exported network: training exited with $TRAIN_RC"; exit 1; }
if [ "$RECIPE" = classic ]; then
  say "next, here: python scripts/ship_styles.py <files_at>/run --vgg ../shared/weights/vgg16_features_hed.pth"
else
  say "next, here: unpack run.tar.*, compare_arbitrary.py shipped against runs/gpu/run/checkpoints/last.ckpt, ship_predictor.py (this script's header)"
fi
exit 0
