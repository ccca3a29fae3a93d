#!/usr/bin/env bash
# Multi30k De→En (WMT'16 multimodal task 1, Flickr30k captions): prepare → AR teacher → distillation →
# model grid (raw and distilled) → evaluation → Ĉ → report. See examples/README.md.
#
#   examples/multi30k_de_en/run.sh                  # downloads the raw corpus into $WORK/raw
#   DATA_DIR=$DATA/multi30k VALID_PREFIX=val TEST_PREFIX=val VALID_LINES=1:507 TEST_LINES=508:1014 \
#     examples/multi30k_de_en/run.sh                # local raw files instead (here: no official test set)
#   DRY_RUN=1 examples/multi30k_de_en/run.sh        # print every command, run none
#   STAGES="eval report" examples/multi30k_de_en/run.sh
# Every variable below can be set from the environment. BLEU protocol: lower-cased, Moses-tokenized text
# (the dataset's own convention); tokenized BLEU and sacreBLEU on detokenised text with its signature.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../common/recipe.sh"

# ==== the pair and where its files go ======================================================================
PAIR=multi30k_de_en
NAME="${NAME:-Multi30k De→En}"
SRC="${SRC:-de}"
TGT="${TGT:-en}"
WORK="${WORK:-$ROOT/runs/$PAIR}"
DATA_DIR="${DATA_DIR:-}"              # raw parallel text PREFIX.{de,en}; empty: download into $WORK/raw
TRAIN_PREFIX="${TRAIN_PREFIX:-train}"
VALID_PREFIX="${VALID_PREFIX:-val}"
TEST_PREFIX="${TEST_PREFIX:-test_2016_flickr}"
VALID_LINES="${VALID_LINES:-}"        # FIRST:END lines of the validation files (empty: all)
TEST_LINES="${TEST_LINES:-}"
MAX_TRAIN="${MAX_TRAIN:-0}"           # first N training pairs only (0: all 29,000)
SEED="${SEED:-1}"

# ==== data preparation (fairseq-nat-study prepare) =========================================================
BPE_MERGES="${BPE_MERGES:-10000}"
words PREPARE_FLAGS "${PREPARE_FLAGS:---tokenize --lowercase --clean-max-len 80 --clean-ratio 3 --workers 4}"

# ==== models: NAME:FAMILY:ARCH:UPDATES (family ar | nat | glat | latent) ===================================
TEACHER="${TEACHER:-tr_base}"         # Tr-B, as in Lee et al. 2020 (distillation with beam 4)
GRID="${GRID:-tr_small:ar:nat_study_tr_small:30000 tr_base:ar:nat_study_tr_base:30000
  nat_base:nat:nat_study_nat_base:50000 glat_base:glat:nat_study_glat_base:50000
  ga_base:latent:nat_study_ga_base:50000 fl_small:latent:nat_study_fl_small:50000
  fl_base:latent:nat_study_fl_base:50000}"

# ==== fairseq-train flags ==================================================================================
# -- optimisation
MAX_TOKENS="${MAX_TOKENS:-8192}"
words OPTIM_FLAGS "${OPTIM_FLAGS:---optimizer adam --adam-betas (0.9,0.98) --lr 5e-4 --lr-scheduler inverse_sqrt
  --warmup-updates 4000 --clip-norm 1.0 --max-tokens $MAX_TOKENS}"
# -- regularisation (a small data set: strong dropout)
words REG_FLAGS "${REG_FLAGS:---dropout 0.3 --weight-decay 0.0001}"
# -- latent models: nat_study_elbo's default objective for the prior (Gaussian: LaNMT's KL budget of 1 nat per
#    target position over the first half of --max-update; flow: KL-weight annealing over the first third)
words LATENT_FLAGS "${LATENT_FLAGS:-}"
# -- checkpoints (interval checkpoints give the within-model BLEU/LL correlation its points) and logging
words CKPT_FLAGS "${CKPT_FLAGS:---save-interval-updates 5000 --keep-interval-updates -1 --no-epoch-checkpoints
  --log-format simple --log-interval 100}"
# -- validation
words VALID_FLAGS "${VALID_FLAGS:---validate-interval-updates 5000}"

# ==== distillation and evaluation ==========================================================================
words DISTILL_FLAGS "${DISTILL_FLAGS:---max-tokens 8192 --generate-args=--max-len-a=1.2 --generate-args=--max-len-b=10}"
words EVAL_FLAGS "${EVAL_FLAGS:---decode-steps 1 --refine-steps 0 1 2 4 8 --iw-samples 100 --max-checkpoints 5}"
COMPOUND_SPLIT="${COMPOUND_SPLIT:-0}"

# ==== download (skipped with DATA_DIR) =====================================================================
# https://github.com/multi30k/dataset (research and non-commercial use): raw, true-cased, untokenized text.
download() {
  local out="$1" base=https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw split lang
  for split in train val test_2016_flickr; do
    for lang in de en; do
      run curl -fsSL -o "$out/$split.$lang.gz" "$base/$split.$lang.gz"
      run gunzip -f "$out/$split.$lang.gz"
    done
  done
}

main "$@"
