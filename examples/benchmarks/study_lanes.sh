#!/usr/bin/env bash
# Why the study runs two stages side by side with one thread each (`study/schedule.py`): the throughput of a
# tiny model's training with every core in one process, against two one-thread trainings at once.
#
#   examples/benchmarks/study_lanes.sh DATA_BIN [UPDATES] [OUT_DIR] [ROUNDS] [ARCH] [CRITERION]
#
# Each round runs, in turn: (a) one training with OMP_NUM_THREADS = all cores; (b) two one-thread trainings
# at the same time; (c) one one-thread training alone. Every training is the same (same data, seed and flags,
# UPDATES updates, no validation, no checkpoints). Printed per round: the wall seconds of each configuration
# (process start-up included, as in a study's stage), the updates per wall second, the ratio of (b) to (a), and
# the last logged training loss and gradient norm of (b)'s first training and of (c): equal when a one-thread
# training's figures do not depend on what runs beside it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DATA="${1:?usage: $0 DATA_BIN [UPDATES] [OUT_DIR] [ROUNDS] [ARCH] [CRITERION]}"
UPDATES="${2:-300}"
OUT="${3:-$ROOT/runs/study_lanes}"
ROUNDS="${4:-3}"
ARCH="${5:-nat_study_nat_tiny}"
CRITERION="${6:-nat_study_mle}"
PY="$ROOT/.venv/bin/python"
CORES=$("$PY" -c 'import os; print(len(os.sched_getaffinity(0)))')
[ -d "$DATA" ] || { echo "$0: no binarised data directory at $DATA" >&2; exit 2; }
mkdir -p "$OUT"

train() {  # threads, name: one training, its log in OUT/name.log
  rm -rf "${OUT:?}/$2"
  OMP_NUM_THREADS="$1" MKL_NUM_THREADS="$1" "$PY" -m fairseq_cli.train "$DATA" --user-dir "$ROOT/fairseq_nat_study" \
    --task nat_study_translation --arch "$ARCH" --criterion "$CRITERION" --optimizer adam --adam-betas '(0.9,0.98)' \
    --lr 3e-3 --lr-scheduler inverse_sqrt --warmup-updates 200 --max-tokens 2048 --max-update "$UPDATES" --seed 1 \
    --cpu --num-workers 0 --disable-validation --no-save --log-format simple --log-interval 100 \
    --save-dir "$OUT/$2" > "$OUT/$2.log" 2>&1
}

last_loss() {  # the last "train |" summary line's loss and gnorm
  grep "| train |" "$OUT/$1.log" | tail -1 | grep -oE "\| (loss|gnorm) [0-9.]+" | tr -d '|' | paste -sd' '
}

now() { date +%s.%N; }
checks=()
echo "cores: $CORES; arch $ARCH, criterion $CRITERION, $UPDATES updates per training; data $DATA"
echo "| round | configuration | threads each | trainings | wall s | updates per wall s | ratio to one training on every core |"
echo "|---|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  t0=$(now); train "$CORES" "a-r$round"; t1=$(now)
  train 1 "b1-r$round" & pid=$!; train 1 "b2-r$round"; wait "$pid"; t2=$(now)
  train 1 "c-r$round"; t3=$(now)
  "$PY" - "$round" "$UPDATES" "$CORES" "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
r, u, cores, t0, t1, t2, t3 = sys.argv[1], int(sys.argv[2]), sys.argv[3], *map(float, sys.argv[4:])
a, b, c = t1 - t0, t2 - t1, t3 - t2
rate = {"a": u / a, "b": 2 * u / b, "c": u / c}
print(f"| {r} | (a) one training, every core | {cores} | 1 | {a:.1f} | {rate['a']:.2f} | 1.00 |")
print(f"| {r} | (b) two trainings side by side | 1 | 2 | {b:.1f} | {rate['b']:.2f} | {rate['b'] / rate['a']:.2f} |")
print(f"| {r} | (c) one training, one thread | 1 | 1 | {c:.1f} | {rate['c']:.2f} | {rate['c'] / rate['a']:.2f} |")
PY
  checks+=("round $round: (b) first training: $(last_loss "b1-r$round"); (c) alone: $(last_loss "c-r$round")")
done
echo
echo "last logged training loss and gradient norm:"
printf '%s\n' "${checks[@]}"
