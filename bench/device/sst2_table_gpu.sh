#!/usr/bin/env bash
# Grow the SST-2 table of real trials (bench/README.md) on a lent GPU machine, in one call:
#   python bench/device/pack_sst2.py          # here: builds .gpu/ (56 MiB)
#   device run, carry [".gpu"]: bash bench/device/sst2_table_gpu.sh
# Runs PROCS random searches side by side on the one GPU, all with the table's data split and trial
# seed (--seed 0) and optimiser seeds 0..PROCS-1: seed 0 replays the first trials of the CPU table
# (a device check: same configuration, data and seed), the others draw new configurations. Each
# search stops after SECS seconds (SIGINT; finished trials are in its ledger) and all come back as
# $OUT/runs.tgz. Fails early, before any search, if the packed model or libraries do not check out.
set -euo pipefail
SECS=${SECS:-330}
PROCS=${PROCS:-6}
REPLAY_TRIALS=${REPLAY_TRIALS:-20}
DEVICE=${DEVICE:-cuda}
THREADS=${THREADS:-2}
OUT=${OUT:-/tmp/out}
G=/tmp/g
rm -rf runs/gpu-* && mkdir -p runs
source bench/device/unpack.sh
python3 - "$G" <<'PY'
import json, sys
from pathlib import Path
import optuna, peft, torch, transformers
from autopeft.models import BaseModel
from autopeft.study.settings import SearchSettings
from autopeft.train.budget import Budget
from autopeft.train.data import prepare_data
g = Path(sys.argv[1])
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-",
      "| transformers", transformers.__version__, "peft", peft.__version__, "optuna", optuna.__version__)
budget = Budget(train_examples=1000, val_examples=500, epochs=1, max_length=64)
settings = SearchSettings(task="glue/sst2", data_dir=str(g), budget=budget, seed=0)
base = BaseModel.load(str(g / "model"))
data = prepare_data(settings.load_task(), base.tokenizer, budget, 0)
kept = set(json.loads((g / "model" / "kept_ids.json").read_text()))
used = {i for enc in (data.train, data.val) for f in enc.features for i in f["input_ids"]}
assert used <= kept, f"{len(used - kept)} token ids of the data are not in the packed model"
print(f"packed model covers all {len(used)} token ids of the data")
PY
T0=$(date +%s)
for k in $(seq 0 $((PROCS - 1))); do
  n=1000; [ "$k" = 0 ] && n=$REPLAY_TRIALS
  mkdir -p "runs/gpu-$k"
  timeout -s INT "$SECS" python3 -m autopeft search --model "$G/model" --task glue/sst2 --data-dir "$G" \
    --out "runs/gpu-$k" --space paper --optimizer random --trials $n --seed 0 --optimizer-seed "$k" \
    --threads "$THREADS" --device "$DEVICE" --train-examples 1000 --val-examples 500 --epochs 1 --max-length 64 \
    > "runs/gpu-$k.log" 2>&1 &
done
wait || true
echo "searches ran $(( $(date +%s) - T0 )) s"
for k in $(seq 0 $((PROCS - 1))); do echo "gpu-$k: $(grep -c '^\[trial' "runs/gpu-$k.log") trials started"; done
tail -3 "runs/gpu-$((PROCS - 1)).log"
tar -czf "$OUT/runs.tgz" runs/gpu-*
