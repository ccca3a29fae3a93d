# Multi30k De→En (WMT'16 multimodal task 1, Flickr30k captions): what this recipe sets apart from the shared
# defaults of examples/common/run_recipe.sh, which reads this file and runs the stages. See examples/README.md.
#
#   examples/multi30k_de_en/run.sh                  # downloads the raw corpus into $WORK/raw
#   DATA_DIR=$DATA/multi30k VALID_PREFIX=val TEST_PREFIX=val VALID_LINES=1:507 TEST_LINES=508:1014 \
#     examples/multi30k_de_en/run.sh                # local raw files instead (here: no official test set)
#   DRY_RUN=1 examples/multi30k_de_en/run.sh        # print every command, run none
#   STAGES="eval report" examples/multi30k_de_en/run.sh
# Every variable below can be set from the environment. BLEU protocol: lower-cased, Moses-tokenized text
# (the dataset's own convention); tokenized BLEU and sacreBLEU on detokenised text with its signature.

# ==== the pair and where its files go (29,000 training pairs) ==============================================
NAME="${NAME:-Multi30k De→En}"
SRC="${SRC:-de}"
TGT="${TGT:-en}"
WORK="${WORK:-$ROOT/runs/$PAIR}"
VALID_PREFIX="${VALID_PREFIX:-val}"
TEST_PREFIX="${TEST_PREFIX:-test_2016_flickr}"

# ==== data preparation (fairseq-nat-study prepare) =========================================================
BPE_MERGES="${BPE_MERGES:-10000}"
words PREPARE_FLAGS "${PREPARE_FLAGS:---tokenize --lowercase --clean-max-len 80 --clean-ratio 3 --workers 4}"

# ==== models: NAME:FAMILY:ARCH:UPDATES (family ar | nat | glat | latent) ===================================
TEACHER="${TEACHER:-tr_base}"         # Tr-B, as in Lee et al. 2020 (distillation with beam 4)
GRID="${GRID:-tr_small:ar:nat_study_tr_small:30000 tr_base:ar:nat_study_tr_base:30000
  nat_base:nat:nat_study_nat_base:50000 glat_base:glat:nat_study_glat_base:50000
  ga_base:latent:nat_study_ga_base:50000 fl_small:latent:nat_study_fl_small:50000
  fl_base:latent:nat_study_fl_base:50000}"

# ==== training: regularisation, checkpoints (no UPDATE_FREQ: fairseq's 1, no --update-freq flag) ===========
DROPOUT="${DROPOUT:-0.3}"             # a small data set: strong dropout
CKPT_INTERVAL="${CKPT_INTERVAL:-5000}"   # save and validate every N updates

# ==== distillation =========================================================================================
DISTILL_MAX_TOKENS="${DISTILL_MAX_TOKENS:-8192}"

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
