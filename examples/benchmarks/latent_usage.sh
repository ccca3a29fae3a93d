#!/usr/bin/env bash
# Does the latent model use its latent? Trains NAT-MLE and the Gaussian and flow latent models on the default
# synthetic corpus (`fairseq-nat-study synth`, exact C known) with the arch and criterion defaults only, then
# measures on the validation split (examples/benchmarks/latent_usage.py): KL per target position against the
# corpus's exact C, active latent dims, the effect of one refinement step, IWAE log-likelihood against
# NAT-MLE's exact log-likelihood, and BLEU at K = 1 against NAT-MLE.
#
#   examples/benchmarks/latent_usage.sh [OUT_DIR] [UPDATES]
#
# The three models train one after the other; the flow model alone took 22 min at 3000 updates on 2 CPU cores.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${1:-$ROOT/runs/latent_usage}"
UPDATES="${2:-3000}"
BIN="$ROOT/.venv/bin"
mkdir -p "$OUT"

# ---- data: the default synthetic corpus ----------------------------------------------------------------
if [ ! -f "$OUT/bin/dict.tgt.txt" ]; then
  "$BIN/fairseq-nat-study" synth --out "$OUT/synth"
  "$BIN/fairseq-preprocess" --source-lang src --target-lang tgt --trainpref "$OUT/synth/train" \
    --validpref "$OUT/synth/valid" --testpref "$OUT/synth/test" --destdir "$OUT/bin" --joined-dictionary \
    --workers 2 > "$OUT/preprocess.log"
fi

# ---- training: optimisation and logging only; no KL, budget or size flags -------------------------------
OPTIM=(--optimizer adam --adam-betas '(0.9,0.98)' --lr-scheduler inverse_sqrt --warmup-updates 200 --lr 1e-3
       --max-tokens 4096 --max-update "$UPDATES" --seed 1 --cpu)
LOGGING=(--no-epoch-checkpoints --validate-interval 1000 --validate-interval-updates 250
         --save-interval-updates 250 --keep-interval-updates 1 --log-format simple --log-interval 50)
train() {  # name arch criterion
  if [ ! -f "$OUT/$1/checkpoint_last.pt" ] || ! grep -q "done training" "$OUT/$1.log" 2>/dev/null; then
    echo "training $1 ($2, $3, $UPDATES updates) ..." >&2
    "$BIN/fairseq-train" "$OUT/bin" --user-dir "$ROOT/fairseq_nat_study" --task nat_study_translation \
      --arch "$2" --criterion "$3" "${OPTIM[@]}" "${LOGGING[@]}" --save-dir "$OUT/$1" > "$OUT/$1.log" 2>&1
  fi
  grep "valid on" "$OUT/$1.log" | tail -n 1 >&2
}
train nat nat_study_nat_tiny nat_study_mle
train ga nat_study_ga_tiny nat_study_elbo
train fl nat_study_fl_tiny nat_study_elbo

# ---- measurement ---------------------------------------------------------------------------------------
"$BIN/python" "$ROOT/examples/benchmarks/latent_usage.py" --data "$OUT/bin" --stats "$OUT/synth/stats.json" \
  --refs "$OUT/synth/valid.tgt" --nat "$OUT/nat/checkpoint_last.pt" \
  --latent "ga=$OUT/ga/checkpoint_last.pt" --latent "fl=$OUT/fl/checkpoint_last.pt" --out "$OUT/latent_usage.json"
