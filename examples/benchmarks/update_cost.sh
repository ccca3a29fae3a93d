#!/usr/bin/env bash
# What one training update of the Multi30k CPU profile's models costs, and what two levers buy: the glibc heap
# setting the plugin applies (`utils/cpu_heap.py`; NAT_STUDY_MMAP_THRESHOLD) and a smaller joint BPE (a d = 64
# model's output layer over the whole subword vocabulary is a large share of each update).
#
#   examples/benchmarks/update_cost.sh TEXT_DIR [UPDATES] [OUT_DIR] [ROUNDS] [CONFIG...]
#
# CONFIG is MERGES or MERGES:THRESHOLD (bytes; 0 = glibc's defaults; omitted = the plugin's default); the
# default list is `6000:0 6000 3000`, the first being the reference of the ratio column. TEXT_DIR holds
# tokenized parallel text (defaults: Multi30k's file names; override with SRC, TGT, TRAIN, VALID, VALID_LINES).
# Each BPE size is prepared once with `fairseq-nat-study prepare` (cached in OUT_DIR/bpe<N>). Each round then
# trains, configuration after configuration, the AR and the flow tiny models as the Multi30k study does
# (`--max-tokens 4096`, lr 2e-3, seed 1, one torch thread, no validation, no checkpoints) for UPDATES updates.
# Printed: the training tokens and dictionary size per BPE size; per round and training the process's wall,
# user and system seconds and peak resident memory (start-up included), fairseq's own training seconds,
# seconds per update and the ratio to the first configuration's in the same round.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TEXT="${1:?usage: $0 TEXT_DIR [UPDATES] [OUT_DIR] [ROUNDS] [CONFIG...]}"
UPDATES="${2:-120}"
OUT="${3:-$ROOT/runs/update_cost}"
ROUNDS="${4:-2}"
shift $(( $# < 4 ? $# : 4 ))
CONFIGS=("$@"); [ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=(6000:0 6000 3000)
SRC="${SRC:-en}"; TGT="${TGT:-de}"; TRAIN="${TRAIN:-train.lc.norm.tok}"; VALID="${VALID:-val.lc.norm.tok}"
VALID_LINES="${VALID_LINES:-1:507}"
BIN="$ROOT/.venv/bin"
[ -d "$TEXT" ] || { echo "$0: no text directory at $TEXT" >&2; exit 2; }
[ -f "$TEXT/$TRAIN.$SRC" ] || { echo "$0: no $TEXT/$TRAIN.$SRC (set TRAIN, SRC, TGT)" >&2; exit 2; }
mkdir -p "$OUT"

for m in $(printf '%s\n' "${CONFIGS[@]}" | cut -d: -f1 | sort -un); do
  if [ ! -f "$OUT/bpe$m/bin/dict.$TGT.txt" ]; then
    echo "preparing BPE $m merges -> $OUT/bpe$m" >&2
    "$BIN/fairseq-nat-study" prepare --dir "$TEXT" --src "$SRC" --tgt "$TGT" --train "$TRAIN" --valid "$VALID" \
      --test "$VALID" --valid-lines "$VALID_LINES" --test-lines "$VALID_LINES" --bpe-merges "$m" \
      --out "$OUT/bpe$m" > "$OUT/prepare$m.log" 2>&1
  fi
  tokens=$(grep -E "\[$TGT\] .*/bpe/train\.$TGT:" "$OUT/bpe$m/preprocess.log" | grep -oE "[0-9]+ tokens")
  echo "BPE $m merges: $TGT training side $tokens, dictionary $(wc -l < "$OUT/bpe$m/bin/dict.$TGT.txt") entries"
done

train() {  # config, arch, criterion flags...: one training, its log in OUT/<arch>.<config>.r<round>.log
  local config="$1" arch="$2"; shift 2
  local m="${config%%:*}" log="$OUT/$arch.${config/:/-}.r$round.log" heap=()
  [[ "$config" == *:* ]] && heap=("NAT_STUDY_MMAP_THRESHOLD=${config#*:}")
  env "${heap[@]}" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 /usr/bin/time -o "$OUT/time.txt" -f "%e %U %S %M" \
    "$BIN/fairseq-train" "$OUT/bpe$m/bin" --user-dir "$ROOT/fairseq_nat_study" --task nat_study_translation \
    --arch "$arch" "$@" --optimizer adam --adam-betas '(0.9,0.98)' --lr-scheduler inverse_sqrt --warmup-updates 200 \
    --lr 2e-3 --max-tokens 4096 --max-update "$UPDATES" --seed 1 --cpu --num-workers 0 --disable-validation \
    --no-save --log-format simple --log-interval 40 --save-dir "$OUT/ck" > "$log" 2>&1
  read -r wall user sys rss < "$OUT/time.txt"
  echo "$arch $config $wall $user $sys $rss $(grep -oE "done training in [0-9.]+" "$log" | grep -oE "[0-9.]+$")"
}

echo "one torch thread per training; $UPDATES updates each; configurations MERGES[:NAT_STUDY_MMAP_THRESHOLD]"
echo "| round | arch | configuration | wall s | user s | sys s | peak RSS MB | fairseq training s | s per update | ratio to ${CONFIGS[0]} |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  rows=()
  for config in "${CONFIGS[@]}"; do
    rows+=("$(train "$config" nat_study_tr_tiny --criterion label_smoothed_cross_entropy --label-smoothing 0)")
    rows+=("$(train "$config" nat_study_fl_tiny --criterion nat_study_elbo)")
  done
  printf '%s\n' "${rows[@]}" | "$BIN/python" -c '
import sys
first = {}
for line in sys.stdin:
    arch, config, wall, user, sys_s, rss, fs = line.split()
    per = float(fs) / '"$UPDATES"'
    first.setdefault(arch, per)
    print(f"| '"$round"' | {arch} | {config} | {wall} | {user} | {sys_s} | {int(rss) // 1024} | {fs} | {per:.3f} | {per / first[arch]:.2f} |")
'
done
