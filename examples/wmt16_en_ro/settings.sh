# WMT'16 English↔Romanian: what this recipe sets apart from the shared defaults of
# examples/common/run_recipe.sh, which reads this file and runs the stages. Lee et al. 2020's grid (Tr-S/B,
# Ga-B/L, Fl-S/B) plus NAT-MLE and GLAT.
#
#   examples/wmt16_en_ro/run.sh                     # En→Ro; downloads from statmt.org, OPUS and sacrebleu
#   SRC=ro TGT=en examples/wmt16_en_ro/run.sh       # Ro→En
#   DATA_DIR=$DATA/wmt16-en-ro TRAIN_PREFIX=train-toy-europarl10k VALID_PREFIX=valid.newsdev2016 \
#     TEST_PREFIX=valid.newsdev2016 VALID_LINES=1:1000 TEST_LINES=1001:1999 examples/wmt16_en_ro/run.sh
#   DRY_RUN=1 examples/wmt16_en_ro/run.sh           # print every command, run none
# Every variable below can be set from the environment. BLEU protocol: tokenized BLEU on Moses-tokenized
# text with the Romanian side normalised (ș/ț) and stripped of diacritics (the WMT'16 En-Ro convention of
# the NAT papers); sacreBLEU on detokenised text with its signature beside it.

# ==== the pair and where its files go (valid: newsdev2016, test: newstest2016) =============================
SRC="${SRC:-en}"
TGT="${TGT:-ro}"
NAME="${NAME:-"WMT'16 $SRC→$TGT"}"
WORK="${WORK:-$ROOT/runs/wmt16_${SRC}_${TGT}}"

# ==== data preparation (fairseq-nat-study prepare) =========================================================
BPE_MERGES="${BPE_MERGES:-40000}"
words PREPARE_FLAGS "${PREPARE_FLAGS:---tokenize --romanian --clean-max-len 250 --clean-ratio 1.5 --workers 16}"

# ==== models: NAME:FAMILY:ARCH:UPDATES (family ar | nat | glat | latent) ===================================
TEACHER="${TEACHER:-tr_base}"         # Tr-B, beam 4 (Lee et al. 2020)
GRID="${GRID:-tr_small:ar:nat_study_tr_small:100000 tr_base:ar:nat_study_tr_base:100000
  nat_base:nat:nat_study_nat_base:300000 glat_base:glat:nat_study_glat_base:300000
  ga_base:latent:nat_study_ga_base:300000 ga_large:latent:nat_study_ga_large:300000
  fl_small:latent:nat_study_fl_small:300000 fl_base:latent:nat_study_fl_base:300000}"

# ==== training: batch, regularisation, checkpoints =========================================================
UPDATE_FREQ="${UPDATE_FREQ:-1}"       # raise it on fewer GPUs to keep the batch (MAX_TOKENS is per GPU)
DROPOUT="${DROPOUT:-0.1}"
CKPT_INTERVAL="${CKPT_INTERVAL:-20000}"  # save and validate every N updates

# ==== distillation =========================================================================================
DISTILL_MAX_TOKENS="${DISTILL_MAX_TOKENS:-16384}"
DISTILL_SHARD_SIZE="${DISTILL_SHARD_SIZE:-200000}"

# ==== download (skipped with DATA_DIR) =====================================================================
# Training: Europarl v8 (statmt.org) and SETIMES2 (OPUS), the WMT'16 constrained En-Ro data; newsdev2016
# (valid) and newstest2016 (test) through sacrebleu. Research use; see
# https://www.statmt.org/wmt16/translation-task.html.
download() {
  local out="$1" lang
  run curl -fsSL -o "$out/training-parallel-ep-v8.tgz" \
    http://data.statmt.org/wmt16/translation-task/training-parallel-ep-v8.tgz
  run tar -xzf "$out/training-parallel-ep-v8.tgz" -C "$out"
  run curl -fsSL -o "$out/SETIMES2.en-ro.zip" "https://object.pouta.csc.fi/OPUS-SETIMES/v2/moses/en-ro.txt.zip"
  run unzip -o "$out/SETIMES2.en-ro.zip" -d "$out/setimes"
  for lang in en ro; do
    run_to "$out/train.$lang" cat "$out/training-parallel-ep-v8/europarl-v8.ro-en.$lang" \
      "$out/setimes/SETIMES.en-ro.$lang"
  done
  run_to "$out/valid.en" "$VENV_BIN/sacrebleu" -t wmt16/dev -l en-ro --echo src
  run_to "$out/valid.ro" "$VENV_BIN/sacrebleu" -t wmt16/dev -l en-ro --echo ref
  run_to "$out/test.en" "$VENV_BIN/sacrebleu" -t wmt16 -l en-ro --echo src
  run_to "$out/test.ro" "$VENV_BIN/sacrebleu" -t wmt16 -l en-ro --echo ref
}
