#!/bin/bash
# The optimize:100 reference of issue 14, one style at a time (about 50 min per style on one
# thread): 20 held-out photos at 256 px, written to docs/bench/reference256/STYLE.{json,txt}.
# Styles already there are skipped, so rerunning continues; later runs reuse the rows with
#   stylenet evaluate --style NEW --reference docs/bench/reference256/STYLE.json ...
#   usage: scripts/reference256.sh [STYLE ...]      (default: the ten classic styles)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
export STYLENET_VGG=${STYLENET_VGG:-$SHARED/weights/vgg16_features_hed.pth} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
OUT=docs/bench/reference256
mkdir -p $OUT
styles=${*:-starry_night mosaic candy udnie wave la_muse the_scream rain_princess feathers composition_vii}
for s in $styles; do
  [ -f $OUT/$s.json ] && continue
  .venv/bin/stylenet evaluate --style optimize:100 --style "$s" --photos $SHARED/data/photos --holdout 32 --limit 20 \
    --size 256 --styles-dir $SHARED/data/styles -q --json $OUT/$s.part.json | grep -v '^wrote' > $OUT/$s.txt
  mv $OUT/$s.part.json $OUT/$s.json
done
