#!/usr/bin/env bash
# bench/throughput.py on a lent GPU machine, in one call:
#   python bench/device/pack_sst2.py          # here: builds .gpu/
#   device run, carry [".gpu"]: bash bench/device/throughput_gpu.sh
# The trials use the SST-2 table's data (500 validation examples), on which the packed model is exactly
# MiniLM; MRPC and RTE rows are timings only. Writes $OUT/throughput_cuda.json.
set -euo pipefail
OUT=${OUT:-/tmp/out}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-50}
G=/tmp/g
source bench/device/unpack.sh
python3 bench/throughput.py --device "$DEVICE" --threads 2 --model "$G/model" --data-dir "$G" \
  --steps "$STEPS" --trial-val-examples 500 --out "$OUT/throughput_$DEVICE.json" ${EXTRA:-}
