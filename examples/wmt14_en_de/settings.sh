# WMT'14 English↔German: what this recipe sets apart from the shared defaults of examples/common/run_recipe.sh,
# which reads this file and runs the stages. Lee et al. 2020's grid (Tr-S/B/L, Ga-B/L, Fl-S/B/L) plus NAT-MLE
# and GLAT (Huang et al. 2022). See examples/README.md for hardware and the slides' numbers.
#
#   examples/wmt14_en_de/run.sh                     # En→De; downloads from statmt.org and sacrebleu
#   SRC=de TGT=en examples/wmt14_en_de/run.sh       # De→En
#   DATA_DIR=/data/wmt14 examples/wmt14_en_de/run.sh   # local raw files train/valid/test.{en,de}
#   DRY_RUN=1 examples/wmt14_en_de/run.sh           # print every command, run none
#   STAGES="grid eval report" NGPU=8 examples/wmt14_en_de/run.sh
# Every variable below can be set from the environment. BLEU protocol: tokenized BLEU on Moses-tokenized,
# true-cased text with compound splitting (##AT##-##AT##) for En→De, as the NAT papers report; sacreBLEU
# on detokenised text with its signature beside it.

# ==== the pair and where its files go (valid: newstest2013, test: newstest2014) ============================
SRC="${SRC:-en}"
TGT="${TGT:-de}"
NAME="${NAME:-"WMT'14 $SRC→$TGT"}"
WORK="${WORK:-$ROOT/runs/wmt14_${SRC}_${TGT}}"

# ==== data preparation (fairseq-nat-study prepare) =========================================================
BPE_MERGES="${BPE_MERGES:-40000}"     # joint BPE, shared vocabulary
words PREPARE_FLAGS "${PREPARE_FLAGS:---tokenize --clean-max-len 250 --clean-ratio 1.5 --workers 16}"

# ==== models: NAME:FAMILY:ARCH:UPDATES (family ar | nat | glat | latent) ===================================
TEACHER="${TEACHER:-tr_base}"         # Tr-B, beam 4 (Lee et al. 2020)
GRID="${GRID:-tr_small:ar:nat_study_tr_small:100000 tr_base:ar:nat_study_tr_base:100000
  tr_large:ar:nat_study_tr_large:100000 nat_base:nat:nat_study_nat_base:300000
  glat_base:glat:nat_study_glat_base:300000 ga_base:latent:nat_study_ga_base:300000
  ga_large:latent:nat_study_ga_large:300000 fl_small:latent:nat_study_fl_small:300000
  fl_base:latent:nat_study_fl_base:300000}"

# ==== training: batch, regularisation, checkpoints =========================================================
UPDATE_FREQ="${UPDATE_FREQ:-1}"       # raise it on fewer GPUs to keep the batch (MAX_TOKENS is per GPU)
DROPOUT="${DROPOUT:-0.1}"
CKPT_INTERVAL="${CKPT_INTERVAL:-20000}"  # save and validate every N updates

# ==== distillation and evaluation ==========================================================================
DISTILL_MAX_TOKENS="${DISTILL_MAX_TOKENS:-16384}"
DISTILL_SHARD_SIZE="${DISTILL_SHARD_SIZE:-500000}"
COMPOUND_SPLIT="${COMPOUND_SPLIT:-$([[ $TGT == de ]] && echo 1 || echo 0)}"  # compound-split BLEU into German

# ==== download (skipped with DATA_DIR) =====================================================================
# Training: Europarl v7, Common Crawl, News Commentary v9 from statmt.org (the WMT'14 constrained data, as in
# fairseq's prepare-wmt14en2de.sh); newstest2013 (valid) and newstest2014 (test, the full version) through
# sacrebleu. Research use; see https://www.statmt.org/wmt14/translation-task.html.
download() {
  local out="$1" url
  for url in http://statmt.org/wmt13/training-parallel-europarl-v7.tgz \
             http://statmt.org/wmt13/training-parallel-commoncrawl.tgz \
             http://statmt.org/wmt14/training-parallel-nc-v9.tgz; do
    run curl -fsSL -o "$out/${url##*/}" "$url"
    run tar -xzf "$out/${url##*/}" -C "$out"
  done
  local lang
  for lang in en de; do
    run_to "$out/train.$lang" cat "$out/training/europarl-v7.de-en.$lang" "$out/commoncrawl.de-en.$lang" \
      "$out/training/news-commentary-v9.de-en.$lang"
  done
  run_to "$out/valid.en" "$VENV_BIN/sacrebleu" -t wmt13 -l en-de --echo src
  run_to "$out/valid.de" "$VENV_BIN/sacrebleu" -t wmt13 -l en-de --echo ref
  run_to "$out/test.en" "$VENV_BIN/sacrebleu" -t wmt14/full -l en-de --echo src
  run_to "$out/test.de" "$VENV_BIN/sacrebleu" -t wmt14/full -l en-de --echo ref
}
