# Shared stages of the per-pair recipes (examples/<pair>/run.sh). Sourced by run_recipe.sh, the one driver,
# which then reads the pair's settings.sh, sets the shared defaults and flag groups and calls `main`; not run
# on its own.
#
# Stages (STAGES, in this order): download prepare teacher distill grid eval tc report
#   download  fetch the raw corpus (the recipe's download function); skipped when DATA_DIR is set
#   prepare   sacremoses normalisation/tokenisation, cleaning, joint subwords (SUBWORD=bpe: subword-nmt BPE,
#             BPE_MERGES; SUBWORD=spm: SentencePiece, SPM_VOCAB, SPM_TYPE), fairseq-preprocess --joined-dictionary
#   teacher   the AR teacher on raw data (TEACHER, an entry of GRID)
#   distill   the teacher decodes the training and validation sets with beam 4; re-binarised, same dictionaries
#   grid      every GRID model on raw, then on distilled data (fairseq-train, distributed when devices allow)
#   eval      fairseq-nat-study evaluate on every run (BLEU per the pair's protocol, LL, refinement, speed)
#   tc        conditional total correlation Ĉ of raw and distilled data and the GLAT proxy
#   report    fairseq-nat-study collect: tables, Pearson r, findings, plots
#
# DRY_RUN=1 prints every command (prefixed "+ ") and runs none; nothing is written.
# Devices: NGPU (default: the GPUs nvidia-smi lists). NGPU >= 1: fairseq-train with
# --distributed-world-size NGPU (fairseq starts one process per GPU). NNODES > 1: torchrun on each node
# (NODE_RANK, MASTER_ADDR, MASTER_PORT), world size NNODES x NGPU. NGPU = 0: the CPU, one process, or with
# CPU_PROCS > 1 one process per rank over gloo (the flag set measured to work on CPUs).
# Several nodes share one WORK folder (a shared file system): run STAGES=teacher on every node, then
# STAGES="distill" on node 0, STAGES=grid on every node, STAGES="eval tc report" on node 0; other nodes skip
# every stage but teacher and grid.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV_BIN="${VENV_BIN:-$ROOT/.venv/bin}"
PLUGIN="$ROOT/fairseq_nat_study"
DRY_RUN="${DRY_RUN:-0}"
STAGES="${STAGES:-download prepare teacher distill grid eval tc report}"
NNODES="${NNODES:-1}"
NODE_RANK="${NODE_RANK:-0}"
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
MASTER_PORT="${MASTER_PORT:-29500}"
CPU_PROCS="${CPU_PROCS:-1}"
if [[ -z "${NGPU:-}" ]]; then
  NGPU=$( (command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -c '^GPU') || echo 0)
fi

# words ARRAY "TEXT": ARRAY = the whitespace-separated words of TEXT (newlines included; no globbing)
words() {
  local -n _words_out="$1"
  read -r -d '' -a _words_out <<< "$2" || true
}

say() { echo "[$PAIR] $*" >&2; }

# run CMD...: print it, then run it unless DRY_RUN=1
run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  [[ "$DRY_RUN" == 1 ]] || "$@"
}

# run_to FILE CMD...: the same with stdout into FILE
run_to() {
  local file="$1"; shift
  printf '+'; printf ' %q' "$@"; printf ' > %q\n' "$file"
  [[ "$DRY_RUN" == 1 ]] || "$@" > "$file"
}

# the grid entry NAME:FAMILY:ARCH:UPDATES whose name is $1
grid_entry() {
  local entry
  for entry in $GRID; do [[ "${entry%%:*}" == "$1" ]] && { echo "$entry"; return; }; done
  echo "$PAIR: '$1' is not in GRID ($GRID)" >&2; return 1
}

# the first grid model of family $1 (empty if none)
first_of_family() {
  local entry
  for entry in $GRID; do
    IFS=: read -r name family _ <<< "$entry"
    [[ "$family" == "$1" ]] && { echo "$name"; return; }
  done
  return 0
}

# every GRID entry is NAME:FAMILY:ARCH:UPDATES with a known family and a positive update count, and the
# teacher is an AR model of the grid
check_grid() {
  local entry name family arch updates
  for entry in $GRID; do
    IFS=: read -r name family arch updates <<< "$entry"
    [[ -n "$arch" && "$updates" =~ ^[1-9][0-9]*$ ]] || {
      echo "$PAIR: GRID entry '$entry' is not NAME:FAMILY:ARCH:UPDATES" >&2; exit 2; }
    criterion_flags "$family" > /dev/null || exit 2
  done
  entry=$(grid_entry "$TEACHER") || exit 2
  IFS=: read -r name family _ <<< "$entry"
  [[ "$family" == ar ]] || { echo "$PAIR: TEACHER '$TEACHER' is a $family model; it must be an ar model" >&2; exit 2; }
}

criterion_flags() {
  case "$1" in
    ar) echo "--criterion label_smoothed_cross_entropy --label-smoothing 0.1" ;;
    nat) echo "--criterion nat_study_mle" ;;
    glat) echo "--criterion nat_study_glat" ;;
    latent) echo "--criterion nat_study_elbo ${LATENT_FLAGS[*]}" ;;
    *) echo "$PAIR: unknown family '$1' in GRID" >&2; return 1 ;;
  esac
}

# fairseq-train with the launcher and distributed flags for the devices present; $1 names the run's log
fairseq_train() {
  local log="$1"; shift
  if [[ "$NNODES" -gt 1 ]]; then
    run "$VENV_BIN/torchrun" --nnodes "$NNODES" --node-rank "$NODE_RANK" --nproc-per-node "$NGPU" \
      --master-addr "$MASTER_ADDR" --master-port "$MASTER_PORT" -m fairseq_cli.train "$@" \
      --distributed-world-size $((NNODES * NGPU))
  elif [[ "$NGPU" -ge 1 ]]; then
    run "$VENV_BIN/fairseq-train" "$@" --distributed-world-size "$NGPU"
  elif [[ "$CPU_PROCS" -gt 1 ]]; then
    local rank pids=()
    [[ "$DRY_RUN" == 1 ]] || mkdir -p "$(dirname "$log")"
    for ((rank = 0; rank < CPU_PROCS; rank++)); do
      local cmd=(env OMP_NUM_THREADS=1 "$VENV_BIN/fairseq-train" "$@" --distributed-world-size "$CPU_PROCS"
                 --distributed-rank "$rank" --distributed-no-spawn --distributed-backend gloo
                 --distributed-init-method "tcp://127.0.0.1:$MASTER_PORT" --ddp-backend legacy_ddp)
      printf '+'; printf ' %q' "${cmd[@]}"; printf ' > %q 2>&1 &\n' "$log.rank$rank"
      [[ "$DRY_RUN" == 1 ]] || { "${cmd[@]}" > "$log.rank$rank" 2>&1 & pids+=($!); }
    done
    local pid; for pid in "${pids[@]}"; do wait "$pid"; done
  else
    run "$VENV_BIN/fairseq-train" "$@" --cpu
  fi
}

# train NAME CONDITION: one grid model on raw or distilled data
train() {
  local name="$1" cond="$2" family arch updates data
  IFS=: read -r name family arch updates <<< "$(grid_entry "$name")"
  data="$BIN"; [[ "$cond" == dist ]] && data="$BIN_DIST"
  say "training $name ($arch, $family) on $cond data for $updates updates"
  # shellcheck disable=SC2046  # criterion_flags is a word list on purpose
  fairseq_train "$RUNS/$name-$cond/train.log" "$data" --user-dir "$PLUGIN" --task nat_study_translation \
    --arch "$arch" $(criterion_flags "$family") --seed "$SEED" --max-update "$updates" \
    --save-dir "$RUNS/$name-$cond" "${OPTIM_FLAGS[@]}" "${REG_FLAGS[@]}" "${CKPT_FLAGS[@]}" "${VALID_FLAGS[@]}"
}

stage_download() {
  if [[ -n "${DATA_DIR:-}" ]]; then say "DATA_DIR=$DATA_DIR: no download"; return; fi
  run mkdir -p "$WORK/raw"
  download "$WORK/raw"
}

stage_prepare() {
  local dir="${DATA_DIR:-$WORK/raw}" opts=() subword=(--bpe-merges "$BPE_MERGES")
  [[ -n "${VALID_LINES:-}" ]] && opts+=(--valid-lines "$VALID_LINES")
  [[ -n "${TEST_LINES:-}" ]] && opts+=(--test-lines "$TEST_LINES")
  if [[ "$SUBWORD" == spm ]]; then
    subword=(--spm-vocab "$SPM_VOCAB")
    [[ -n "$SPM_TYPE" ]] && subword+=(--spm-type "$SPM_TYPE")
  fi
  run "$VENV_BIN/fairseq-nat-study" prepare --dir "$dir" --src "$SRC" --tgt "$TGT" --train "$TRAIN_PREFIX" \
    --valid "$VALID_PREFIX" --test "$TEST_PREFIX" "${opts[@]}" --max-train "$MAX_TRAIN" "${PREPARE_FLAGS[@]}" \
    "${subword[@]}" --out "$WORK/data"
}

stage_teacher() { train "$TEACHER" raw; }

stage_distill() {
  local teacher="$RUNS/$TEACHER-raw/checkpoint_last.pt" gen=()
  [[ "$NGPU" -ge 1 ]] || gen+=(--cpu)
  run "$VENV_BIN/fairseq-nat-study" distill --teacher "$teacher" --data "$BIN" --out "$BIN_DIST" --subset train \
    --beam 4 --workers "$((NGPU > 1 ? NGPU : 1))" "${DISTILL_FLAGS[@]}" "${gen[@]}"
  run "$VENV_BIN/fairseq-nat-study" distill --teacher "$teacher" --data "$BIN" --out "$BIN_DIST_VALID" \
    --subset valid --beam 4 "${DISTILL_FLAGS[@]}" "${gen[@]}"
}

stage_grid() {
  local cond entry
  for cond in raw dist; do
    for entry in $GRID; do
      [[ "$cond" == raw && "${entry%%:*}" == "$TEACHER" ]] && continue  # trained by the teacher stage
      train "${entry%%:*}" "$cond"
    done
  done
}

stage_eval() {
  local cond entry name family opts=()
  [[ "$COMPOUND_SPLIT" == 1 ]] && opts+=(--compound-split)
  [[ "$NGPU" -ge 1 ]] || opts+=(--cpu)
  for cond in raw dist; do
    for entry in $GRID; do
      IFS=: read -r name family _ <<< "$entry"
      run "$VENV_BIN/fairseq-nat-study" evaluate --run-dir "$RUNS/$name-$cond" --data "$BIN" \
        --refs "$WORK/data/text/test.$TGT" --name "$name" --condition "$cond" --family "$family" --lang "$TGT" \
        --seed "$SEED" --force "${opts[@]}" "${EVAL_FLAGS[@]}"
    done
  done
}

stage_tc() {
  local ar nat glat
  ar=$(first_of_family ar); nat=$(first_of_family nat); glat=$(first_of_family glat)
  if [[ -z "$ar" || -z "$nat" ]]; then say "tc: GRID needs an ar and a nat model; skipped"; return; fi
  run mkdir -p "$WORK/tc"
  run "$VENV_BIN/fairseq-nat-study" total-correlation --ar "$RUNS/$ar-raw/checkpoint_last.pt" \
    --nat "$RUNS/$nat-raw/checkpoint_last.pt" --data "$BIN" --subset valid --seed "$SEED" --out "$WORK/tc/raw.json"
  run "$VENV_BIN/fairseq-nat-study" total-correlation --ar "$RUNS/$ar-dist/checkpoint_last.pt" \
    --nat "$RUNS/$nat-dist/checkpoint_last.pt" --data "$BIN_DIST_VALID" --subset valid --seed "$SEED" \
    --out "$WORK/tc/dist.json"
  [[ -z "$glat" ]] && return
  run "$VENV_BIN/fairseq-nat-study" total-correlation --ar "$RUNS/$ar-raw/checkpoint_last.pt" \
    --nat "$RUNS/$glat-raw/checkpoint_last.pt" --data "$BIN" --subset valid --glat-ratio 0.3 --seed "$SEED" \
    --out "$WORK/tc/glat_proxy.json"
}

stage_report() {
  local runs=() tc=() cond entry label
  for cond in raw dist; do for entry in $GRID; do runs+=("$RUNS/${entry%%:*}-$cond"); done; done
  for label in raw dist glat_proxy; do
    [[ -f "$WORK/tc/$label.json" || "$DRY_RUN" == 1 ]] && tc+=("$label=$WORK/tc/$label.json")
  done
  run "$VENV_BIN/fairseq-nat-study" collect --name "$NAME" --data-json "$WORK/data/data.json" --runs "${runs[@]}" \
    --total-correlation "${tc[@]}" --seconds "$SECONDS" --out "$WORK/report"
}

main() {
  BIN="$WORK/data/bin"                  # raw data-bin (its test split is what every model is scored on)
  BIN_DIST="$WORK/data/bin-dist"        # training split distilled by the teacher
  BIN_DIST_VALID="$WORK/data/bin-dist-valid"  # validation split distilled (for Ĉ of distilled data)
  RUNS="$WORK/runs"
  [[ "$DRY_RUN" == 1 ]] || [[ -x "$VENV_BIN/fairseq-train" ]] || {
    echo "$PAIR: no $VENV_BIN/fairseq-train; run 'make venv' at the checkout root first" >&2; exit 2; }
  check_grid
  local stage
  for stage in $STAGES; do
    declare -F "stage_$stage" > /dev/null || { echo "$PAIR: unknown stage '$stage'" >&2; exit 2; }
  done
  say "stages: $STAGES; work dir: $WORK; devices: NGPU=$NGPU NNODES=$NNODES CPU_PROCS=$CPU_PROCS"
  for stage in $STAGES; do
    say "== $stage =="
    if [[ "$NNODES" -gt 1 && "$NODE_RANK" != 0 && "$stage" != teacher && "$stage" != grid ]]; then
      say "node $NODE_RANK: $stage runs on node 0 only; skipped"
      continue
    fi
    "stage_$stage"
  done
  say "done in ${SECONDS}s"
}
