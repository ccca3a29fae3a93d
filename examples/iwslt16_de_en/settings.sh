# IWSLT'16 German→English (TED talks): what this recipe sets apart from the shared defaults of
# examples/common/run_recipe.sh, which reads this file and runs the stages. Lee et al. 2020's IWSLT grid
# (Tr-S, Ga-B, Fl-S/B) plus Tr-B (the teacher), NAT-MLE and GLAT.
#
#   examples/iwslt16_de_en/run.sh                   # downloads the WIT3 release (2016-01)
#   DATA_DIR=$DATA/iwslt16-de-en TRAIN_PREFIX=train-subset VALID_PREFIX=valid.tst2013 \
#     TEST_PREFIX=valid.tst2013 VALID_LINES=1:496 TEST_LINES=497:993 examples/iwslt16_de_en/run.sh
#   DRY_RUN=1 examples/iwslt16_de_en/run.sh         # print every command, run none
# Every variable below can be set from the environment. BLEU protocol: tokenized BLEU on Moses-tokenized,
# true-cased text; sacreBLEU on detokenised text with its signature beside it.

# ==== the pair and where its files go (valid: tst2013, test: tst2014) ======================================
NAME="${NAME:-"IWSLT'16 De→En"}"
SRC="${SRC:-de}"
TGT="${TGT:-en}"
WORK="${WORK:-$ROOT/runs/$PAIR}"

# ==== data preparation (fairseq-nat-study prepare) =========================================================
BPE_MERGES="${BPE_MERGES:-10000}"
words PREPARE_FLAGS "${PREPARE_FLAGS:---tokenize --clean-max-len 175 --clean-ratio 1.5 --workers 8}"

# ==== models: NAME:FAMILY:ARCH:UPDATES (family ar | nat | glat | latent) ===================================
TEACHER="${TEACHER:-tr_base}"         # Tr-B, beam 4 (Lee et al. 2020's distillation teacher)
GRID="${GRID:-tr_small:ar:nat_study_tr_small:50000 tr_base:ar:nat_study_tr_base:50000
  nat_base:nat:nat_study_nat_base:100000 glat_base:glat:nat_study_glat_base:100000
  ga_base:latent:nat_study_ga_base:100000 fl_small:latent:nat_study_fl_small:100000
  fl_base:latent:nat_study_fl_base:100000}"

# ==== training: batch, regularisation, checkpoints =========================================================
UPDATE_FREQ="${UPDATE_FREQ:-1}"
DROPOUT="${DROPOUT:-0.3}"             # a small data set: strong dropout
CKPT_INTERVAL="${CKPT_INTERVAL:-10000}"  # save and validate every N updates

# ==== distillation =========================================================================================
DISTILL_MAX_TOKENS="${DISTILL_MAX_TOKENS:-8192}"

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
