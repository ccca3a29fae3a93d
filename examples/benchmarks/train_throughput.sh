#!/usr/bin/env bash
# Training throughput (target words/s) of every non-autoregressive family at equal size, side by side: the
# plugin's vanilla NAT (the reference of the ratios), GLAT, the Gaussian and the flow latent models, and
# fairseq's own nonautoregressive_transformer (2+2 layers, d 64, 2 heads, FFN 256); same data, same batch size,
# same number of updates. The configurations are interleaved: ROUNDS rounds, each training every model once in
# turn, so that a slow spell of a shared machine hits every model alike; each round's ratios are printed.
#
#   examples/benchmarks/train_throughput.sh DATA_BIN [UPDATES] [OUT_DIR] [ROUNDS]
#
# Prints, per run, the steady-state means of fairseq's logged wps and ups and the sentences/s (bsz x ups), and
# target words/s = sentences/s x the mean target length (words, no EOS) of the training split. fairseq's
# translation_lev prepends BOS and counts it and EOS in its wps, the plugin's criterions count |y| + 1, so the
# logged wps columns are not comparable across the two; the words/s column is. The torch intra-op thread count
# is printed (set OMP_NUM_THREADS to fix it). Then the time `fairseq-nat-study loglik` takes (IWAE with 100
# samples) on the test split with each latent checkpoint of the last round.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DATA="${1:?usage: $0 DATA_BIN [UPDATES] [OUT_DIR]}"
UPDATES="${2:-200}"
OUT="${3:-$ROOT/runs/train_throughput}"
ROUNDS="${4:-2}"
PY="$ROOT/.venv/bin/python"
mkdir -p "$OUT"

# ---- shared flags --------------------------------------------------------------------------------------
COMMON=(--optimizer adam --adam-betas '(0.9,0.98)' --lr 5e-4 --max-tokens 4096 --max-update "$UPDATES"
        --no-epoch-checkpoints --log-format simple --log-interval 25 --seed 1 --cpu --disable-validation)
TINY=(--encoder-layers 2 --decoder-layers 2 --encoder-embed-dim 64 --decoder-embed-dim 64
      --encoder-ffn-embed-dim 256 --decoder-ffn-embed-dim 256 --encoder-attention-heads 2
      --decoder-attention-heads 2)

run() {  # name, then fairseq-train arguments; prints "name wps ups sentences/s"
  local name="$1"; shift
  rm -rf "${OUT:?}/$name"  # a stale checkpoint_last.pt would be resumed, not retrained
  "$PY" -m fairseq_cli.train "$DATA" "$@" "${COMMON[@]}" --save-dir "$OUT/$name" > "$OUT/$name.log" 2>&1
  # steady state: the mean over every train_inner interval but the first (start-up and first batches)
  "$PY" - "$OUT/$name.log" "$name" <<'PY'
import re, sys
rows = [dict(re.findall(r"(wps|ups|bsz)=([0-9.]+)", line)) for line in open(sys.argv[1]) if "| train_inner |" in line]
rows = [{k: float(v) for k, v in r.items()} for r in rows[1:]]
if not rows:
    sys.exit(f"{sys.argv[1]}: fewer than two train_inner lines; raise UPDATES")
mean = lambda key: sum(r[key] for r in rows) / len(rows)
print(sys.argv[2], round(mean("wps"), 1), round(mean("ups"), 2), round(sum(r["bsz"] * r["ups"] for r in rows) / len(rows), 1))
PY
}

# ---- the models, interleaved over rounds ----------------------------------------------------------------
plugin=(--user-dir "$ROOT/fairseq_nat_study" --task nat_study_translation)
words=$("$PY" -c "
from fairseq.data import data_utils
d = data_utils.load_indexed_dataset('$DATA/train.src-tgt.tgt', None)
print(float(d.sizes.mean()) - 1)")  # sizes count the EOS
echo "mean target length of the training split: $words words; torch threads: $("$PY" -c 'import torch; print(torch.get_num_threads())')"
echo "| round | model | logged wps | updates/s | sentences/s | target words/s | ratio to nat_study_nat_tiny |"
echo "|---|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  rows=()
  rows+=("$(run "nat_study_nat_tiny-r$round" "${plugin[@]}" --arch nat_study_nat_tiny --criterion nat_study_mle)")
  rows+=("$(run "nat_study_glat_tiny-r$round" "${plugin[@]}" --arch nat_study_glat_tiny --criterion nat_study_glat)")
  rows+=("$(run "nat_study_ga_tiny-r$round" "${plugin[@]}" --arch nat_study_ga_tiny --criterion nat_study_elbo)")
  rows+=("$(run "nat_study_fl_tiny-r$round" "${plugin[@]}" --arch nat_study_fl_tiny --criterion nat_study_elbo)")
  rows+=("$(run "fairseq_nat-r$round" --task translation_lev --noise full_mask --arch nonautoregressive_transformer \
            --criterion nat_loss --pred-length-offset --src-embedding-copy --length-loss-factor 0.1 "${TINY[@]}")")
  ref_sps=$(cut -d' ' -f4 <<<"${rows[0]}")
  for row in "${rows[@]}"; do
    read -r name wps ups sps <<<"$row"
    tw=$("$PY" -c "print(round($sps * $words))")
    ratio=$("$PY" -c "print(round($sps / $ref_sps, 2))")
    echo "| $round | ${name%-r*} | $wps | $ups | $sps | $tw | $ratio |"
  done
done

echo
echo "| model | loglik (IWAE-100) on test: seconds | sentences | LL nats/token | ELBO nats/token |"
echo "|---|---|---|---|---|"
for name in nat_study_ga_tiny nat_study_fl_tiny; do
  "$PY" -m fairseq_nat_study.cli.main loglik --path "$OUT/$name-r$ROUNDS/checkpoint_last.pt" --data "$DATA" \
    --subset test --iw-samples 100 --cpu --out "$OUT/$name.loglik.json" > /dev/null 2>&1
  "$PY" - "$OUT/$name.loglik.json" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"| {sys.argv[2]} | {r['seconds']} | {r['num_sentences']} | {r['ll_per_token']:.4f} | {r['elbo_per_token']:.4f} |")
PY
done
