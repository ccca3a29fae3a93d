"""The per-pair recipes (examples/<pair>/run.sh, each its settings.sh run by examples/common/run_recipe.sh):
every command they print with DRY_RUN=1 (byte for byte what the recipes printed before they shared one driver),
their distributed launch lines, the SentencePiece setting, their errors, and the Multi30k recipe end to end on a
tiny generated corpus (slow)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = str(ROOT / "fairseq_nat_study")
RECIPES = ("wmt14_en_de", "wmt16_en_ro", "iwslt16_de_en", "multi30k_de_en")
#: the default grid size of each recipe (teacher included)
GRID_SIZE = {"wmt14_en_de": 9, "wmt16_en_ro": 8, "iwslt16_de_en": 7, "multi30k_de_en": 7}
#: the flag set ../shared/STACK.md lists as working for several CPU processes
GLOO = ["--distributed-no-spawn", "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp"]


#: every variable a recipe reads from the environment (a test sets the ones it means)
RECIPE_ENV = ("DATA_DIR", "GRID", "TEACHER", "STAGES", "SRC", "TGT", "NNODES", "NODE_RANK", "MASTER_ADDR",
              "MASTER_PORT", "CPU_PROCS", "NAME", "TRAIN_PREFIX", "VALID_PREFIX", "TEST_PREFIX", "VALID_LINES",
              "TEST_LINES", "MAX_TRAIN", "SEED", "BPE_MERGES", "SUBWORD", "SPM_VOCAB", "SPM_TYPE", "MAX_TOKENS",
              "UPDATE_FREQ", "DROPOUT", "CKPT_INTERVAL", "DISTILL_MAX_TOKENS", "DISTILL_SHARD_SIZE", "COMPOUND_SPLIT",
              "PREPARE_FLAGS", "OPTIM_FLAGS", "REG_FLAGS", "LATENT_FLAGS", "CKPT_FLAGS", "VALID_FLAGS",
              "DISTILL_FLAGS", "EVAL_FLAGS", "IWSLT16_URL", "DRY_RUN")


def run_recipe(name: str, tmp_path: Path, script: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """Run examples/NAME/run.sh (or SCRIPT with NAME as its argument) with WORK in TMP_PATH, NGPU=0 and ENV."""
    full = {**os.environ, "WORK": str(tmp_path / "work"), "NGPU": "0", **env}
    for key in RECIPE_ENV:
        if key not in env:
            full.pop(key, None)
    cmd = ["bash", str(ROOT / "examples" / name / "run.sh")] if script is None else ["bash", str(script), name]
    return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=600)


def commands(out: str) -> list[list[str]]:
    """The printed commands (lines "+ ..."), split as the shell would, without a trailing redirection."""
    cmds = []
    for line in out.splitlines():
        if line.startswith("+ "):
            words = shlex.split(line[2:])
            if ">" in words:
                words = words[: words.index(">")]
            cmds.append(words)
    return cmds


def tool(cmd: list[str]) -> str:
    words = cmd[2:] if cmd[0] == "env" else cmd
    name = Path(words[0]).name
    return f"{name} {words[1]}" if name == "fairseq-nat-study" else name


@pytest.mark.parametrize("name", RECIPES)
def test_dry_run_prints_every_stage_and_writes_nothing(name: str, tmp_path: Path) -> None:
    proc = run_recipe(name, tmp_path, DRY_RUN="1")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "work").exists()  # DRY_RUN runs nothing, so nothing is written
    cmds = commands(proc.stdout)
    kinds = [tool(c) for c in cmds]
    n = GRID_SIZE[name]
    assert kinds.count("curl") >= 1  # no DATA_DIR: the documented download
    assert kinds.count("fairseq-nat-study prepare") == 1
    assert kinds.count("fairseq-train") == 2 * n  # teacher + rest of the grid on raw, whole grid on distilled
    assert kinds.count("fairseq-nat-study distill") == 2  # training and validation splits
    assert kinds.count("fairseq-nat-study evaluate") == 2 * n
    assert kinds.count("fairseq-nat-study total-correlation") == 3  # raw, distilled, GLAT proxy
    assert kinds.count("fairseq-nat-study collect") == 1
    order = [k for k in dict.fromkeys(kinds) if k.startswith("fairseq")]
    assert order[:3] == ["fairseq-nat-study prepare", "fairseq-train", "fairseq-nat-study distill"]
    prepare = next(c for c in cmds if tool(c) == "fairseq-nat-study prepare")
    assert "--tokenize" in prepare and "--bpe-merges" in prepare
    assert ("--romanian" in prepare) == (name == "wmt16_en_ro")
    trains = [c for c in cmds if tool(c) == "fairseq-train"]
    for c in trains:
        assert c[c.index("--user-dir") + 1] == PLUGIN and c[c.index("--seed") + 1] == "1" and "--cpu" in c
        assert c[c.index("--task") + 1] == "nat_study_translation"
    teacher = trains[0]
    assert teacher[teacher.index("--arch") + 1] == "nat_study_tr_base"
    assert teacher[1].endswith("data/bin")
    assert sum(c[1].endswith("data/bin-dist") for c in trains) == n  # the whole grid again on distilled data
    latent = [c for c in trains if "nat_study_elbo" in c]
    assert latent and not any(flag.startswith("--kl-") for c in latent for flag in c)  # the prior's default objective
    distill = [c for c in cmds if tool(c) == "fairseq-nat-study distill"]
    assert all(c[c.index("--beam") + 1] == "4" and c[c.index("--teacher") + 1].endswith("tr_base-raw/checkpoint_last.pt")
               for c in distill)
    evals = [c for c in cmds if tool(c) == "fairseq-nat-study evaluate"]
    compound = name == "wmt14_en_de"  # En→De by default: compound-split BLEU, the WMT'14 En-De protocol
    assert all(("--compound-split" in c) == compound for c in evals)


#: DRY_RUN=1 variants whose whole output is pinned: {variant: {recipe: env}}; "all" runs every stage on the CPU
GOLDEN_VARIANTS: dict[str, dict[str, dict[str, str]]] = {
    "all": {name: {} for name in RECIPES},
    "gpus": {name: {"NGPU": "8"} for name in RECIPES},
    "node1": {name: {"NGPU": "8", "NNODES": "2", "NODE_RANK": "1", "MASTER_ADDR": "10.0.0.1"} for name in RECIPES},
    "cpu2": {name: {"CPU_PROCS": "2", "MASTER_PORT": "29511"} for name in RECIPES},
    "local": {name: {"DATA_DIR": "/data/local", "STAGES": "download prepare"} for name in RECIPES},
    "eval_report": {name: {"STAGES": "eval report"} for name in RECIPES},
    # the other direction, with the default WORK (it names the direction for WMT)
    "reverse": {"wmt14_en_de": {"SRC": "de", "TGT": "en", "WORK": ""},
                "wmt16_en_ro": {"SRC": "ro", "TGT": "en", "WORK": ""},
                "iwslt16_de_en": {"SRC": "en", "TGT": "de", "WORK": ""},
                "multi30k_de_en": {"SRC": "en", "TGT": "de", "WORK": ""}},
    # the local-data lines of each recipe's usage comment and examples/README.md
    "usage": {
        "wmt14_en_de": {"DATA_DIR": "/data/wmt14"},
        "wmt16_en_ro": {"DATA_DIR": "/data/wmt16-en-ro", "TRAIN_PREFIX": "train-toy-europarl10k",
                        "VALID_PREFIX": "valid.newsdev2016", "TEST_PREFIX": "valid.newsdev2016",
                        "VALID_LINES": "1:1000", "TEST_LINES": "1001:1999"},
        "iwslt16_de_en": {"DATA_DIR": "/data/iwslt16-de-en", "TRAIN_PREFIX": "train-subset",
                          "VALID_PREFIX": "valid.tst2013", "TEST_PREFIX": "valid.tst2013", "VALID_LINES": "1:496",
                          "TEST_LINES": "497:993"},
        "multi30k_de_en": {"DATA_DIR": "/data/multi30k", "VALID_PREFIX": "val", "TEST_PREFIX": "val",
                           "VALID_LINES": "1:507", "TEST_LINES": "508:1014"},
    },
}

#: sha256 of each variant's normalised output (dry_run_output), recorded from the four recipes as they were
#: before they shared run_recipe.sh and settings.sh, then once more when the eval stage's `evaluate` calls gained
#: `--force` (an existing eval.json is replaced only when asked; nothing else changed). A change of what a recipe
#: runs changes a digest: update it here, saying why in the commit.
GOLDEN_SHA256 = {
    ("wmt14_en_de", "all"): "f31ac2212ba81648c69b3a49af807f5231996ceec5d6a0b2f2b06c63c8937089",
    ("wmt16_en_ro", "all"): "3ead0717ab691a21801c43b3e2adb08b2d2b33f387e4188f8a9f3cbd4c3d8815",
    ("iwslt16_de_en", "all"): "15b641baf45f26e03a72e68ef02b29ed2b23389f584e764d0e4e0565e8841efb",
    ("multi30k_de_en", "all"): "fb69221fe20bf1dae5b20123b4f4290fa085cbbf4a19121f3c6a099d094b8f22",
    ("wmt14_en_de", "gpus"): "52ccdf45276190dc4cd2b01badf14156ceea133c177af91a9ae6f29678b63484",
    ("wmt16_en_ro", "gpus"): "041fcdb8ff7eab2d2159b1107abde91a98b4d734731d3d887fcae124937988e1",
    ("iwslt16_de_en", "gpus"): "f2b609750b43da004a12528c4583639c501c2d53a9fbb90f58b6767e9443240a",
    ("multi30k_de_en", "gpus"): "d569f65efde6c538c2fcce7b254165c8658100c0e6ada870fdbb937546eed050",
    ("wmt14_en_de", "node1"): "38f7c56578a2c07336ae383c3ab55e72408d8309a4799f5c8566ab5895c2dda3",
    ("wmt16_en_ro", "node1"): "682855a24fcf5eabf17b8abdd63dba7cbc5b31f3f0cf8975c6785e19087c9c37",
    ("iwslt16_de_en", "node1"): "e4846c1a1e8fbe188ce9cb890537bef4e8d4980dccbce33dbfb0b7bd81a2144e",
    ("multi30k_de_en", "node1"): "b42f3ea0623dc5bbf97ae7308b55ff07d71dad3ece528aae64a5cea518dc6971",
    ("wmt14_en_de", "cpu2"): "3da1370926c83f832b5dc44a1a82fbeed85bdd2430abe6446dc0cff0748fa9fd",
    ("wmt16_en_ro", "cpu2"): "2304861e646be7771952ab189e8524d5ce0f653d8551ba812c843794230fcaa4",
    ("iwslt16_de_en", "cpu2"): "f2bec33ff22568df0d200d7f1f5a87a153dd9a6f6803ebb950248cedf8797d55",
    ("multi30k_de_en", "cpu2"): "2b02a1e195a395c569923c3a1866ed42a77007f8f2c27487247d9a036e7362b6",
    ("wmt14_en_de", "local"): "a8ebf23be4d2684b1f4fefce1d55b4b71c4d00f5c6742a7c5997e00f582ba8a4",
    ("wmt16_en_ro", "local"): "8440922eade6d25859c7eea0014b1ccbb8b84f035c69ccf7ccf63ea9b5b4a4b0",
    ("iwslt16_de_en", "local"): "286a10882d453736d1caddd25a721a59b2ef010c8a781712f12ea5f19d88c5ac",
    ("multi30k_de_en", "local"): "a22388e66b228e83c67b0c17c53465e203b894a8fc4f60a241b27a74556a4495",
    ("wmt14_en_de", "eval_report"): "df51203a2af72c8273e36e4c7edecbab3d7efb0be5a61265f225fa8b9f345ea1",
    ("wmt16_en_ro", "eval_report"): "179aab6480bcb6561c131a58f9d1cafc89957729aa5b2d2c97c3032dadd5dd74",
    ("iwslt16_de_en", "eval_report"): "24d2ea59926be6ae3a229fb37c2cd2b922ec4d6b78a403f57526cbd7026d44fc",
    ("multi30k_de_en", "eval_report"): "04eeb4383ff9f84e6b1b5d8e6a11dfeefa2a19a390c00c9275ff0ed52546c04e",
    ("wmt14_en_de", "reverse"): "f89570292086463df8405dbe568bca25ef40b12601a7aa0cb0b52cb137ff9107",
    ("wmt16_en_ro", "reverse"): "7295112cb253d8b34e2abbdd9897742d566c645d79ac2660a0f450f1e352559f",
    ("iwslt16_de_en", "reverse"): "29f6c1fd011dbb3c07f0b6a3e0e6ac76e171dfa54a2334e49c8aaf3e1558d66b",
    ("multi30k_de_en", "reverse"): "0cfdd78d0c88ac8d009745b5c45e68b9fb27ba2fb47d2b0eec2a385dd11fbf7f",
    ("wmt14_en_de", "usage"): "023416f2dc790f62112bb90f24f6c25b14d9fd12c32b8bb5f0a6a6fe403a5ef8",
    ("wmt16_en_ro", "usage"): "b6b8509830d44ccfd8790ad742175648095796af038b702340440e0aac2699e0",
    ("iwslt16_de_en", "usage"): "0dd6ee4e1858bdb7ed81fe00002ebd01a0c83f3767a08f04c5a68fac10c45335",
    ("multi30k_de_en", "usage"): "56bfdf213098083ee17e5cd3c53f6180fa59a1b7d75f1e0a72898edc19cd6598",
}


def dry_run_output(root: Path, name: str, env: dict[str, str]) -> str:
    """What examples/NAME/run.sh under ROOT prints with DRY_RUN=1 and ENV: its exit status, stdout and stderr,
    in the C locale and without any other variable of the caller, ROOT written as <ROOT> and the elapsed
    seconds as N. An empty value in ENV leaves that variable unset."""
    full = {"PATH": os.environ["PATH"], "LC_ALL": "C", "DRY_RUN": "1", "NGPU": "0", "WORK": "/nonexistent/work"}
    full.update(env)
    full = {key: value for key, value in full.items() if value}
    proc = subprocess.run(["bash", str(root / "examples" / name / "run.sh")], env=full, capture_output=True,
                          text=True, timeout=60, cwd="/")
    text = f"rc={proc.returncode}\n--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
    return without_seconds(text).replace(str(root), "<ROOT>")


def without_seconds(text: str) -> str:
    """TEXT with the recipe's elapsed seconds (collect's --seconds, the closing "done in") written as N."""
    return re.sub(r"--seconds \d+", "--seconds N", re.sub(r"done in \d+s", "done in Ns", text))


@pytest.mark.parametrize("variant", GOLDEN_VARIANTS)
@pytest.mark.parametrize("name", RECIPES)
def test_dry_run_output_is_unchanged_byte_for_byte(name: str, variant: str) -> None:
    out = dry_run_output(ROOT, name, GOLDEN_VARIANTS[variant][name])
    assert out.startswith("rc=0\n") and "\n+ " in out
    assert hashlib.sha256(out.encode()).hexdigest() == GOLDEN_SHA256[name, variant], out


def test_wmt14_de_en_has_no_compound_split_and_other_paths(tmp_path: Path) -> None:
    proc = run_recipe("wmt14_en_de", tmp_path, DRY_RUN="1", SRC="de", TGT="en", STAGES="prepare eval")
    assert proc.returncode == 0, proc.stderr
    cmds = commands(proc.stdout)
    assert cmds[0][cmds[0].index("--src") + 1] == "de" and cmds[0][cmds[0].index("--tgt") + 1] == "en"
    evals = [c for c in cmds if tool(c) == "fairseq-nat-study evaluate"]
    assert evals and not any("--compound-split" in c for c in evals)
    assert all(c[c.index("--refs") + 1].endswith("work/data/text/test.en") for c in evals)


@pytest.mark.parametrize("name", RECIPES)
def test_data_dir_replaces_the_download(name: str, tmp_path: Path) -> None:
    proc = run_recipe(name, tmp_path, DRY_RUN="1", DATA_DIR=str(tmp_path / "local"), STAGES="download prepare")
    assert proc.returncode == 0, proc.stderr
    cmds = commands(proc.stdout)
    assert [tool(c) for c in cmds] == ["fairseq-nat-study prepare"]
    assert cmds[0][cmds[0].index("--dir") + 1] == str(tmp_path / "local")


def test_distributed_launch_lines(tmp_path: Path) -> None:
    gpus = commands(run_recipe("wmt16_en_ro", tmp_path, DRY_RUN="1", STAGES="teacher", NGPU="4").stdout)
    assert len(gpus) == 1 and "--cpu" not in gpus[0]
    assert gpus[0][gpus[0].index("--distributed-world-size") + 1] == "4"

    proc = run_recipe("wmt16_en_ro", tmp_path, DRY_RUN="1", STAGES="teacher distill", NGPU="8", NNODES="2",
                      NODE_RANK="1", MASTER_ADDR="10.0.0.1")
    nodes = commands(proc.stdout)
    assert len(nodes) == 1 and "skipped" in proc.stderr  # node 1 trains; distillation runs on node 0 only
    t = nodes[0]
    assert Path(t[0]).name == "torchrun" and t[t.index("-m") + 1] == "fairseq_cli.train"
    assert t[t.index("--nnodes") + 1] == "2" and t[t.index("--node-rank") + 1] == "1"
    assert t[t.index("--master-addr") + 1] == "10.0.0.1" and t[t.index("--distributed-world-size") + 1] == "16"

    cpu = commands(run_recipe("wmt16_en_ro", tmp_path, DRY_RUN="1", STAGES="teacher", CPU_PROCS="2").stdout)
    assert len(cpu) == 2
    for rank, c in enumerate(cpu):
        assert c[:2] == ["env", "OMP_NUM_THREADS=1"] and "--cpu" not in c
        assert c[c.index("--distributed-rank") + 1] == str(rank) and c[c.index("--distributed-world-size") + 1] == "2"
        assert all(flag in c for flag in GLOO)
        assert c[c.index("--distributed-init-method") + 1].startswith("tcp://127.0.0.1:")


def test_recipe_errors_name_the_problem(tmp_path: Path) -> None:
    proc = run_recipe("multi30k_de_en", tmp_path, DRY_RUN="1", STAGES="prepare trian")
    assert proc.returncode == 2 and "unknown stage 'trian'" in proc.stderr
    proc = run_recipe("multi30k_de_en", tmp_path, DRY_RUN="1", TEACHER="tr_big")
    assert proc.returncode == 2 and "'tr_big' is not in GRID" in proc.stderr
    proc = run_recipe("multi30k_de_en", tmp_path, DRY_RUN="1", GRID="t:ar:nat_study_tr_tiny:5 x:cnn:a:5", TEACHER="t")
    assert proc.returncode == 2 and "unknown family 'cnn'" in proc.stderr
    proc = run_recipe("multi30k_de_en", tmp_path, DRY_RUN="1", GRID="t:ar:nat_study_tr_tiny", TEACHER="t")
    assert proc.returncode == 2 and "not NAME:FAMILY:ARCH:UPDATES" in proc.stderr
    proc = run_recipe("multi30k_de_en", tmp_path, DRY_RUN="1", GRID="g:latent:nat_study_ga_tiny:5", TEACHER="g")
    assert proc.returncode == 2 and "must be an ar model" in proc.stderr
    assert not proc.stdout  # nothing was printed as run before the error
    proc = run_recipe("multi30k_de_en", tmp_path, DRY_RUN="1", SUBWORD="wordpiece")
    assert proc.returncode == 2 and "SUBWORD='wordpiece' is neither bpe nor spm" in proc.stderr and not proc.stdout
    proc = run_recipe("multi30k_de_en", tmp_path, DRY_RUN="1", SUBWORD="spm", SPM_TYPE="char")
    assert proc.returncode == 2 and "SPM_TYPE='char' is neither unigram nor bpe" in proc.stderr and not proc.stdout


@pytest.mark.parametrize("name", RECIPES)
def test_subword_spm_passes_the_sentencepiece_vocabulary_instead_of_bpe_merges(name: str, tmp_path: Path) -> None:
    bpe = run_recipe(name, tmp_path, DRY_RUN="1", BPE_MERGES="1234")
    spm = run_recipe(name, tmp_path, DRY_RUN="1", BPE_MERGES="1234", SUBWORD="spm")
    typed = run_recipe(name, tmp_path, DRY_RUN="1", SUBWORD="spm", SPM_VOCAB="8000", SPM_TYPE="bpe", STAGES="prepare")
    assert bpe.returncode == spm.returncode == typed.returncode == 0, spm.stderr + typed.stderr
    prepare = {key: next(c for c in commands(proc.stdout) if tool(c) == "fairseq-nat-study prepare")
               for key, proc in (("bpe", bpe), ("spm", spm), ("typed", typed))}
    assert prepare["bpe"][-4:] == ["--bpe-merges", "1234", "--out", str(tmp_path / "work" / "data")]
    assert "--spm-vocab" not in prepare["bpe"] and "--spm-type" not in prepare["bpe"]
    # SPM_VOCAB defaults to the pair's BPE size; only the subword flags of the prepare line change
    assert prepare["spm"] == prepare["bpe"][:-4] + ["--spm-vocab", "1234"] + prepare["bpe"][-2:]
    assert prepare["typed"][-6:-2] == ["--spm-vocab", "8000", "--spm-type", "bpe"]
    assert "--bpe-merges" not in prepare["typed"]
    def others(out: str) -> list[str]:
        return [line for line in without_seconds(out).splitlines() if "fairseq-nat-study prepare" not in line]

    assert others(bpe.stdout) == others(spm.stdout) and len(others(bpe.stdout)) == len(bpe.stdout.splitlines()) - 1


def test_pair_settings_reach_the_flag_groups(tmp_path: Path) -> None:
    proc = run_recipe("multi30k_de_en", tmp_path, DRY_RUN="1", STAGES="teacher distill")
    (train, *distill) = commands(proc.stdout)
    assert "--update-freq" not in train  # Multi30k sets no UPDATE_FREQ: fairseq's default
    assert train[train.index("--dropout") + 1] == "0.3" and train[train.index("--max-tokens") + 1] == "8192"
    assert train[train.index("--save-interval-updates") + 1] == "5000"
    assert train[train.index("--validate-interval-updates") + 1] == "5000"
    assert all(c[c.index("--max-tokens") + 1] == "8192" and "--shard-size" not in c for c in distill)
    proc = run_recipe("multi30k_de_en", tmp_path, DRY_RUN="1", STAGES="teacher distill", UPDATE_FREQ="2",
                      DROPOUT="0.2", CKPT_INTERVAL="700", MAX_TOKENS="1000", DISTILL_MAX_TOKENS="900",
                      DISTILL_SHARD_SIZE="50")
    (train, *distill) = commands(proc.stdout)
    assert train[train.index("--update-freq") + 1] == "2" and train[train.index("--dropout") + 1] == "0.2"
    assert train[train.index("--save-interval-updates") + 1] == "700"
    assert train[train.index("--max-tokens") + 1] == "1000"
    assert train[train.index("--validate-interval-updates") + 1] == "700"
    assert all(c[c.index("--max-tokens") + 1] == "900" and c[c.index("--shard-size") + 1] == "50" for c in distill)
    wmt = commands(run_recipe("wmt14_en_de", tmp_path, DRY_RUN="1", STAGES="teacher distill").stdout)
    assert wmt[0][wmt[0].index("--update-freq") + 1] == "1" and wmt[0][wmt[0].index("--dropout") + 1] == "0.1"
    assert wmt[1][wmt[1].index("--max-tokens") + 1] == "16384" and wmt[1][wmt[1].index("--shard-size") + 1] == "500000"


def test_the_driver_runs_a_pair_by_name_and_refuses_anything_else(tmp_path: Path) -> None:
    driver = ROOT / "examples" / "common" / "run_recipe.sh"
    for name in RECIPES:
        direct = run_recipe(name, tmp_path, script=driver, DRY_RUN="1", STAGES="prepare teacher")
        wrapped = run_recipe(name, tmp_path, DRY_RUN="1", STAGES="prepare teacher")
        assert direct.returncode == 0 and direct.stdout == wrapped.stdout and len(commands(direct.stdout)) == 2
    for args in ([], ["wmt14"], ["../wmt14_en_de"], ["wmt14_en_de", "extra"]):
        proc = subprocess.run(["bash", str(driver), *args], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "DRY_RUN": "1"})
        assert proc.returncode == 2 and not proc.stdout
        assert "PAIR one of: iwslt16_de_en multi30k_de_en wmt14_en_de wmt16_en_ro" in proc.stderr


def test_a_settings_file_without_a_required_setting_is_refused(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    (examples / "toy").mkdir(parents=True)
    for script in ("recipe.sh", "run_recipe.sh"):
        (examples / "common").mkdir(exist_ok=True)
        (examples / "common" / script).write_text((ROOT / "examples" / "common" / script).read_text())
    settings = (ROOT / "examples" / "multi30k_de_en" / "settings.sh").read_text()
    assert settings.count("\nGRID=") == 1
    (examples / "toy" / "settings.sh").write_text(settings.replace("\nGRID=", "\nNOT_GRID="))
    proc = run_recipe("toy", tmp_path, script=examples / "common" / "run_recipe.sh", DRY_RUN="1")
    assert proc.returncode == 2 and not proc.stdout
    assert "toy: examples/toy/settings.sh sets no GRID" in proc.stderr
    (examples / "toy" / "settings.sh").write_text(settings.replace("\ndownload() {", "\nfetch() {"))
    proc = run_recipe("toy", tmp_path, script=examples / "common" / "run_recipe.sh", DRY_RUN="1")
    assert proc.returncode == 2 and "defines no download function" in proc.stderr
    (examples / "toy" / "settings.sh").write_text(settings)  # complete: the Multi30k recipe under another name
    proc = run_recipe("toy", tmp_path, script=examples / "common" / "run_recipe.sh", DRY_RUN="1", STAGES="prepare")
    assert proc.returncode == 0 and "[toy] done" in proc.stderr
    assert commands(proc.stdout)[0][commands(proc.stdout)[0].index("--valid") + 1] == "val"


TINY_GRID = ("tr_tiny:ar:nat_study_tr_tiny:40 nat_tiny:nat:nat_study_nat_tiny:30 glat_tiny:glat:nat_study_glat_tiny:30 "
             "ga_tiny:latent:nat_study_ga_tiny:30 fl_tiny:latent:nat_study_fl_tiny:20")


@pytest.mark.slow
def test_multi30k_recipe_end_to_end_on_a_tiny_corpus(tmp_path: Path) -> None:
    """Every stage for real, tiny archs on the CPU, on a generated corpus written as raw .de/.en files."""
    from fairseq_nat_study.data.synthetic import SynthConfig, write_corpus

    raw = tmp_path / "raw"
    write_corpus(SynthConfig(seed=5, num_train=400, num_valid=40, num_test=40), raw)
    for split in ("train", "valid", "test"):
        (raw / f"{split}.src").rename(raw / f"{split}.de")
        (raw / f"{split}.tgt").rename(raw / f"{split}.en")
    proc = run_recipe(
        "multi30k_de_en", tmp_path, DATA_DIR=str(raw), VALID_PREFIX="valid", TEST_PREFIX="test", BPE_MERGES="200",
        PREPARE_FLAGS="--tokenize", TEACHER="tr_tiny", GRID=TINY_GRID, VALID_FLAGS="--disable-validation",
        OPTIM_FLAGS="--optimizer adam --lr 1e-3 --max-tokens 1024",
        CKPT_FLAGS="--save-interval-updates 10 --keep-interval-updates -1 --no-epoch-checkpoints --log-format simple",
        EVAL_FLAGS="--iw-samples 2 --refine-steps 0 1 --bench-sentences 5 --bench-batch 16 --max-checkpoints 2 --last-checkpoints 2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    work = tmp_path / "work"
    data = json.loads((work / "data" / "data.json").read_text())
    assert data["sentences"] == {"train": 400, "valid": 40, "test": 40}
    # distillation: same sources in the same order, the teacher's outputs instead of (some) references
    from fairseq.data import Dictionary, data_utils

    vocab = Dictionary.load(str(work / "data" / "bin" / "dict.en.txt"))
    side = {(b, lang): data_utils.load_indexed_dataset(str(work / "data" / b / f"train.de-en.{lang}"), vocab)
            for b in ("bin", "bin-dist") for lang in ("de", "en")}
    assert len(side["bin-dist", "en"]) == len(side["bin", "en"]) == 400
    assert all(side["bin", "de"][i].equal(side["bin-dist", "de"][i]) for i in range(400))
    assert sum(not side["bin", "en"][i].equal(side["bin-dist", "en"][i]) for i in range(400)) > 0
    assert json.loads((work / "data" / "bin-dist" / "distill.json").read_text())["beam"] == 4
    results = json.loads((work / "report" / "results.json").read_text())
    assert [(r["model"], r["data"]) for r in results["runs"]] == [
        (m.split(":")[0], d) for d in ("raw", "dist") for m in TINY_GRID.split()]
    for run in results["runs"]:
        updates = int(next(m for m in TINY_GRID.split() if m.startswith(run["model"] + ":")).split(":")[3])
        assert run["points"][-1]["final"] and run["points"][-1]["updates"] == updates
        # two spread along training (the first and the final) and the last two saved up to the final, each once
        got = [p["updates"] for p in run["points"]]
        assert got[0] == 10 and got == sorted(set(got)) and len(got) in (2, 3)
        assert [p["updates"] for p in run["points"] if p["last"]] == got[-2:]
        for p in run["points"]:
            assert 0.0 <= p["bleu"] <= 100.0 and p["ll_per_token"] < 0 and p["num_sentences"] == 40
    groups = {r["model"]: r["points"][-1]["group"] for r in results["runs"]}
    assert results["hardware"]["device"] == "cpu" and all(r["device"] == "cpu" for r in results["runs"])
    assert groups == {"tr_tiny": "ar", "nat_tiny": "nat", "glat_tiny": "glat", "ga_tiny": "latent-gaussian",
                      "fl_tiny": "latent-flow"}
    assert {r["arch"] for r in results["runs"]} == {m.split(":")[2] for m in TINY_GRID.split()}
    tc = results["total_correlation"]
    assert {"raw", "dist", "glat_proxy"} <= set(tc) and tc["raw"]["ar"] == "tr_tiny-raw"
    assert tc["dist"]["nat"] == "nat_tiny-dist" and tc["glat_proxy"]["nat"] == "glat_tiny-raw"
    report = (work / "report" / "report.md").read_text()
    assert "| ga_tiny | nat_study_ga_tiny | latent-gaussian |" in report
    assert re.search(r"\| raw \| -?\d+\.\d{3} \|", report)  # the Ĉ row of raw data has a number
    assert (work / "report" / "bleu_vs_ll.png").stat().st_size > 0
    # the recipe printed every command it ran
    kinds = [tool(c) for c in commands(proc.stdout)]
    assert kinds.count("fairseq-train") == 10 and kinds.count("fairseq-nat-study evaluate") == 10
