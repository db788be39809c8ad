#!/bin/bash
# 15-CPU-minute rows (224 steps: what 900 s bought on one AVX2 thread) for the held-out paintings still missing,
# each added to wip/rows/rows.safetensors (scripts/combine_styles.py: one network, a row per painting)
cd /work/main
for F in styleid__09.png pytorch-multi-style-transfer__mosaic_ducks_massimo.jpg magenta__zigzag_colorful.jpg artflow__konkan_hut.jpg aesust__14.jpg aesust__35.jpg pytorch-neural-style-transfer__tahiti_guaguin.jpg deep-painterly-harmonization__21_target.jpg magenta__clouds-over-bor-1940_sq.jpg linearstyletransfer__3314.jpg artflow__maxresdefault.jpg pytorch-adain__woman_in_peasant_dress.jpg neural-style-transfer__japanese_flower_sakai_hoitsu.jpg magenta__theo_van_doesburg_sq.jpg pytorch-adain__asheville.jpg pytorch-multi-style-transfer__strip.jpg artflow__blue_swirls.jpg neural-style-transfer__silver_plate.jpg; do
  S=${F%.*}
  if [ -f wip/rows/rows.safetensors ] && .venv/bin/python -c \
      "import stylenet, sys; sys.exit(0 if '$S' in stylenet.load('wip/rows/rows.safetensors').style_names else 1)"; then
    continue  # in the combined file already
  fi
  [ -f runs/rows/$S/$S.safetensors ] || [ -f wip/rows/$S/$S.safetensors ] || TRAIN=1
  if [ "${TRAIN:-0}" = 1 ]; then
  echo "$(date +%T) start $S"
  OMP_NUM_THREADS=1 .venv/bin/python scripts/train.py style=custom style.image=../shared/data/paintings/$F style.name=$S style.size=256 \
    init_weights=stylenet/styles/classic.safetensors train_only=norm trainer.max_steps=224 paths=shared \
    data.image_size=128 data.num_workers=1 preview_every_n_steps=0 checkpoint_every_n_steps=56 export.half=true hydra.run.dir=runs/rows/$S > runs/rows_$S.log 2>&1 < /dev/null
  fi
  TRAIN=0
  BASE=wip/rows/rows.safetensors ROW=runs/rows/$S/$S.safetensors
  [ -f $BASE ] || BASE=classic  # the first row: the combined file starts from the classic network
  [ -f $ROW ] || ROW=wip/rows/$S/$S.safetensors  # trained by an earlier loop, copied into wip/rows
  if [ -f $ROW ] && .venv/bin/python scripts/combine_styles.py wip/rows/rows.safetensors $BASE $ROW --half --overwrite; then
    rm -rf wip/rows/$S
    echo "$(date +%T) done $S"
  else echo "$(date +%T) FAILED $S"; fi
done
