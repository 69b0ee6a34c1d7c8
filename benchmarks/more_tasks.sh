#!/usr/bin/env bash
# Super-resolution, JPEG-artifact removal and flash / no-flash through the CLI, as a user would run them,
# on CPU-sized inputs. Usage: benchmarks/more_tasks.sh [DATA_DIR] [OUT_DIR]   (reports in OUT_DIR/*/)
set -euo pipefail
D=${1:-../shared/data/dip}
O=${2:-bench-out/more_tasks}
DP=${DP:-deepprior}
PY=${PY:-python3}
mkdir -p "$O"
# x4: zebra_crop (256x160) is the ground truth, its Lanczos-downscaled 64x40 version the input
$DP degrade "$D/sr/zebra_crop.png" --downscale 4 -o "$O/zebra_lr.png" --overwrite
$DP superres "$O/zebra_lr.png" --scale 4 --gt "$D/sr/zebra_crop.png" -o "$O/zebra_x4.png" --max-iters 1000 \
    --report "$O/superres" --overwrite --quiet
# JPEG at quality 10 of a 256 px F16 crop (with ground truth), and the paper's snail (blind, no ground truth)
$PY -c "from PIL import Image; Image.open('$D/denoising/F16_GT.png').crop((128, 128, 384, 384)).save('$O/f16_256.png')"
$DP degrade "$O/f16_256.png" --jpeg 10 -o "$O/f16_q10.png" --overwrite
$DP dejpeg "$O/f16_q10.png" --gt "$O/f16_256.png" -o "$O/f16_dejpeg.png" --report "$O/dejpeg" --overwrite --quiet
$DP dejpeg "$D/denoising/snail.jpg" -o "$O/snail_dejpeg.png" --report "$O/dejpeg_snail" --overwrite --quiet
# flash / no-flash on a 192 px crop of the cave pair
$PY -c "
from PIL import Image
for n in ('00_flash', '01_noflash'):
    Image.open('$D/flash_no_flash/cave01_' + n + '.jpg').crop((300, 250, 492, 442)).save('$O/cave_' + n + '.png')"
$DP flash --flash "$O/cave_00_flash.png" --noflash "$O/cave_01_noflash.png" -o "$O/cave.png" --report "$O/flash" \
    --overwrite --quiet
