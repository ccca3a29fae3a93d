#!/usr/bin/env bash
# The one driver of the per-pair recipes:
#
#   examples/common/run_recipe.sh PAIR      # what examples/PAIR/run.sh runs
#
# It reads examples/PAIR/settings.sh (what differs per pair: languages and names, work folder, data prefixes,
# BPE size, prepare flags, teacher, grid, batch, dropout, checkpoint interval, distillation batch, BLEU
# protocol, download), gives every other setting its shared default below, then runs the stages of
# recipe.sh beside this file (STAGES, DRY_RUN, devices: see there). Every variable can be set from the
# environment; a flag group (*_FLAGS) set there replaces the whole group.
set -euo pipefail
COMMON="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EXAMPLES="$(dirname "$COMMON")"

pairs=("$EXAMPLES"/*/settings.sh); pairs=("${pairs[@]%/settings.sh}"); pairs=("${pairs[@]##*/}")
if [[ $# -ne 1 || ! "$1" =~ ^[A-Za-z0-9_]+$ || ! -f "$EXAMPLES/$1/settings.sh" ]]; then
  echo "usage: examples/common/run_recipe.sh PAIR, PAIR one of: ${pairs[*]}; every setting comes from the" \
    "environment (got: ${*:-no argument})" >&2
  exit 2
fi
PAIR="$1"
source "$COMMON/recipe.sh"
source "$EXAMPLES/$PAIR/settings.sh"

# ==== what every settings.sh must give =====================================================================
for var in SRC TGT NAME WORK BPE_MERGES PREPARE_FLAGS TEACHER GRID DROPOUT CKPT_INTERVAL DISTILL_MAX_TOKENS; do
  declare -p "$var" &> /dev/null || {
    echo "$PAIR: examples/$PAIR/settings.sh sets no $var; set it there" >&2; exit 2; }
done
declare -F download > /dev/null || {
  echo "$PAIR: examples/$PAIR/settings.sh defines no download function; define one there" >&2; exit 2; }

# ==== raw data =============================================================================================
DATA_DIR="${DATA_DIR:-}"              # raw parallel text PREFIX.{SRC,TGT}; empty: download into $WORK/raw
TRAIN_PREFIX="${TRAIN_PREFIX:-train}"
VALID_PREFIX="${VALID_PREFIX:-valid}"
TEST_PREFIX="${TEST_PREFIX:-test}"
VALID_LINES="${VALID_LINES:-}"        # FIRST:END lines of the validation files (empty: all)
TEST_LINES="${TEST_LINES:-}"
MAX_TRAIN="${MAX_TRAIN:-0}"           # first N training pairs only (0: all)
SEED="${SEED:-1}"

# ==== subwords (fairseq-nat-study prepare): joint BPE (subword-nmt) or a joint SentencePiece model ==========
SUBWORD="${SUBWORD:-bpe}"             # bpe: --bpe-merges $BPE_MERGES; spm: --spm-vocab $SPM_VOCAB
SPM_VOCAB="${SPM_VOCAB:-$BPE_MERGES}" # SentencePiece vocabulary size (default: about the vocabulary BPE gives)
SPM_TYPE="${SPM_TYPE:-}"              # unigram | bpe; empty: prepare's default (unigram)
case "$SUBWORD" in
  bpe | spm) ;;
  *) echo "$PAIR: SUBWORD='$SUBWORD' is neither bpe nor spm; set SUBWORD=bpe or SUBWORD=spm" >&2; exit 2 ;;
esac
case "$SPM_TYPE" in
  '' | unigram | bpe) ;;
  *) echo "$PAIR: SPM_TYPE='$SPM_TYPE' is neither unigram nor bpe; set one of them or leave it empty" >&2; exit 2 ;;
esac

# ==== fairseq-train flags ==================================================================================
# -- optimisation (MAX_TOKENS per GPU; UPDATE_FREQ empty: no --update-freq, fairseq's 1)
MAX_TOKENS="${MAX_TOKENS:-8192}"
UPDATE_FREQ="${UPDATE_FREQ:-}"
words OPTIM_FLAGS "${OPTIM_FLAGS:---optimizer adam --adam-betas (0.9,0.98) --lr 5e-4 --lr-scheduler inverse_sqrt
  --warmup-updates 4000 --clip-norm 1.0 --max-tokens $MAX_TOKENS${UPDATE_FREQ:+ --update-freq $UPDATE_FREQ}}"
# -- regularisation
words REG_FLAGS "${REG_FLAGS:---dropout $DROPOUT --weight-decay 0.0001}"
# -- latent models: nat_study_elbo's default objective for the prior (Gaussian: LaNMT's KL budget of 1 nat per
#    target position over the first half of --max-update; flow: KL-weight annealing over the first third)
words LATENT_FLAGS "${LATENT_FLAGS:-}"
# -- checkpoints (interval checkpoints give the within-model BLEU/LL correlation its points) and logging
words CKPT_FLAGS "${CKPT_FLAGS:---save-interval-updates $CKPT_INTERVAL --keep-interval-updates -1
  --no-epoch-checkpoints --log-format simple --log-interval 100}"
# -- validation
words VALID_FLAGS "${VALID_FLAGS:---validate-interval-updates $CKPT_INTERVAL}"

# ==== distillation (beam 4) and evaluation =================================================================
DISTILL_SHARD_SIZE="${DISTILL_SHARD_SIZE:-}"  # empty: no --shard-size (the distill tool's default)
words DISTILL_FLAGS "${DISTILL_FLAGS:---max-tokens $DISTILL_MAX_TOKENS
  ${DISTILL_SHARD_SIZE:+--shard-size $DISTILL_SHARD_SIZE} --max-len-a 1.2 --max-len-b 10}"
words EVAL_FLAGS "${EVAL_FLAGS:---decode-steps 1 --refine-steps 0 1 2 4 8 --iw-samples 100 --max-checkpoints 5}"
COMPOUND_SPLIT="${COMPOUND_SPLIT:-0}" # 1: compound-split BLEU (##AT##-##AT##) beside the others

main
