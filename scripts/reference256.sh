#!/bin/bash
# The optimize:100 reference of issue 14 (about 50 min per style on one thread): 20 held-out
# photos at 256 px, written to docs/bench/reference256/STYLE.{json,txt}. Measured five photos at
# a time (docs/bench/reference256/parts/), so an interrupted run loses at most one part;
# rerunning continues where it stopped and skips finished styles. The optimization's loss weights
# are pinned (content 1, style 5, TV 5: the classic recipe's), so the reference does not move with
# the recipe of the shipped network; its layers and style size are the card's. Networks are measured against a report with
#   python scripts/targets256.py [STYLE ...]   (or stylenet evaluate --style NEW --reference docs/bench/reference256/STYLE.json ...)
#   usage: scripts/reference256.sh [STYLE ...]      (default: the ten classic styles)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
export STYLENET_VGG=${STYLENET_VGG:-$SHARED/weights/vgg16_features_hed.pth} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
OUT=docs/bench/reference256
PY=.venv/bin/python
mkdir -p $OUT/parts
styles=${*:-starry_night mosaic candy udnie wave la_muse the_scream rain_princess feathers composition_vii}
# the 20 photos, as lists of five
$PY -c "
from stylenet.quality.evaluate import select_photos
photos = select_photos('$SHARED/data/photos', holdout=32, limit=20)
for k in range(4):
    open(f'$OUT/parts/photos{k}.txt', 'w').write(''.join(f'{p}\n' for p in photos[5 * k:5 * k + 5]))
"
for s in $styles; do
  [ -f $OUT/$s.json ] && continue
  for k in 0 1 2 3; do
    part=$OUT/parts/$s.$k.json
    [ -f $part ] && continue
    .venv/bin/stylenet evaluate --style optimize:100 --style "$s" --photos $OUT/parts/photos$k.txt --size 256 \
      --content-weight 1 --style-weight 5 --tv-weight 5 \
      --styles-dir $SHARED/data/styles -q --json $part.tmp > /dev/null
    mv $part.tmp $part
  done
  $PY -c "
import json
from stylenet.quality.reports import MethodResult, format_table, merge_reports
report = merge_reports([json.load(open(f'$OUT/parts/$s.{k}.json')) for k in range(4)])
# only the photo and optimize rows: the parts may span a new ship, so a network row could mix two networks
# (scripts/targets256.py measures networks against this report)
report['results'] = {k: v for k, v in report['results'].items() if k == 'photo (unstylized)' or k.startswith('optimize')}
print(f\"style image {report['style_image']} at {report['style_size']} px, photos at {report['size']} px, VGG {report['vgg']}\")
print(format_table([MethodResult(label, r['images']) for label, r in report['results'].items()]))
json.dump(report, open('$OUT/$s.json', 'w'), indent=2)
" > $OUT/$s.txt
  rm $OUT/parts/$s.?.json
done
