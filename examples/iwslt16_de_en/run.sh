#!/usr/bin/env bash
# IWSLT'16 German→English (TED talks): prepare → AR teacher → distillation → model grid (raw and distilled) →
# evaluation → Ĉ → report, as in Lee et al. 2020 (Tr-S, Ga-B, Fl-S/B on IWSLT) plus NAT-MLE and GLAT.
#
#   examples/iwslt16_de_en/run.sh                   # downloads the WIT3 release (2016-01)
#   DATA_DIR=$DATA/iwslt16-de-en TRAIN_PREFIX=train-subset VALID_PREFIX=valid.tst2013 \
#     TEST_PREFIX=valid.tst2013 VALID_LINES=1:496 TEST_LINES=497:993 examples/iwslt16_de_en/run.sh
#   DRY_RUN=1 examples/iwslt16_de_en/run.sh         # print every command, run none
# Every variable below can be set from the environment. BLEU protocol: tokenized BLEU on Moses-tokenized,
# true-cased text; sacreBLEU on detokenised text with its signature beside it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../common/recipe.sh"

# ==== the pair and where its files go ======================================================================
PAIR=iwslt16_de_en
NAME="${NAME:-"IWSLT'16 De→En"}"
SRC="${SRC:-de}"
TGT="${TGT:-en}"
WORK="${WORK:-$ROOT/runs/$PAIR}"
DATA_DIR="${DATA_DIR:-}"              # raw parallel text PREFIX.{de,en}; empty: download into $WORK/raw
TRAIN_PREFIX="${TRAIN_PREFIX:-train}"
VALID_PREFIX="${VALID_PREFIX:-valid}" # tst2013
TEST_PREFIX="${TEST_PREFIX:-test}"    # tst2014
VALID_LINES="${VALID_LINES:-}"
TEST_LINES="${TEST_LINES:-}"
MAX_TRAIN="${MAX_TRAIN:-0}"
SEED="${SEED:-1}"

# ==== data preparation (fairseq-nat-study prepare) =========================================================
BPE_MERGES="${BPE_MERGES:-10000}"
words PREPARE_FLAGS "${PREPARE_FLAGS:---tokenize --clean-max-len 175 --clean-ratio 1.5 --workers 8}"

# ==== models: NAME:FAMILY:ARCH:UPDATES (family ar | nat | glat | latent) ===================================
TEACHER="${TEACHER:-tr_base}"         # Tr-B, beam 4 (Lee et al. 2020's distillation teacher)
GRID="${GRID:-tr_small:ar:nat_study_tr_small:50000 tr_base:ar:nat_study_tr_base:50000
  nat_base:nat:nat_study_nat_base:100000 glat_base:glat:nat_study_glat_base:100000
  ga_base:latent:nat_study_ga_base:100000 fl_small:latent:nat_study_fl_small:100000
  fl_base:latent:nat_study_fl_base:100000}"

# ==== fairseq-train flags ==================================================================================
# -- optimisation
MAX_TOKENS="${MAX_TOKENS:-8192}"
UPDATE_FREQ="${UPDATE_FREQ:-1}"
words OPTIM_FLAGS "${OPTIM_FLAGS:---optimizer adam --adam-betas (0.9,0.98) --lr 5e-4 --lr-scheduler inverse_sqrt
  --warmup-updates 4000 --clip-norm 1.0 --max-tokens $MAX_TOKENS --update-freq $UPDATE_FREQ}"
# -- regularisation (a small data set: strong dropout)
words REG_FLAGS "${REG_FLAGS:---dropout 0.3 --weight-decay 0.0001}"
# -- latent models: nat_study_elbo's default objective for the prior (Gaussian: LaNMT's KL budget of 1 nat per
#    target position over the first half of --max-update; flow: KL-weight annealing over the first third)
words LATENT_FLAGS "${LATENT_FLAGS:-}"
# -- checkpoints (interval checkpoints give the within-model BLEU/LL correlation its points) and logging
words CKPT_FLAGS "${CKPT_FLAGS:---save-interval-updates 10000 --keep-interval-updates -1 --no-epoch-checkpoints
  --log-format simple --log-interval 100}"
# -- validation
words VALID_FLAGS "${VALID_FLAGS:---validate-interval-updates 10000}"

# ==== distillation and evaluation ==========================================================================
words DISTILL_FLAGS "${DISTILL_FLAGS:---max-tokens 8192 --generate-args=--max-len-a=1.2 --generate-args=--max-len-b=10}"
words EVAL_FLAGS "${EVAL_FLAGS:---decode-steps 1 --refine-steps 0 1 2 4 8 --iw-samples 100 --max-checkpoints 5}"
COMPOUND_SPLIT="${COMPOUND_SPLIT:-0}"

# ==== download (skipped with DATA_DIR) =====================================================================
# The IWSLT 2016 release from WIT3 (TED talks, CC BY-NC-ND 3.0): train.tags.de-en.* without the metadata
# lines; tst2013 (valid) and tst2014 (test) from their XML <seg> elements. WIT3's archive has moved over
# the years; set IWSLT16_URL to a mirror of 2016-01/texts/de/en/de-en.tgz if this one is gone.
IWSLT16_URL="${IWSLT16_URL:-https://wit3.fbk.eu/archive/2016-01/texts/de/en/de-en.tgz}"
download() {
  local out="$1" lang split
  run curl -fsSL -o "$out/de-en.tgz" "$IWSLT16_URL"
  run tar -xzf "$out/de-en.tgz" -C "$out"
  for lang in de en; do
    run_to "$out/train.$lang" grep -v '^[[:space:]]*<' "$out/de-en/train.tags.de-en.$lang"
    for split in valid:tst2013 test:tst2014; do
      run_to "$out/${split%%:*}.$lang" sed -n 's|^[[:space:]]*<seg id="[0-9]*">[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*</seg>.*|\1|p' \
        "$out/de-en/IWSLT16.TED.${split#*:}.de-en.$lang.xml"
    done
  done
}

main "$@"
