"""The per-pair recipes (examples/<pair>/run.sh): every command they print with DRY_RUN=1, their distributed
launch lines, their errors, and the Multi30k recipe end to end on a tiny generated corpus (slow)."""
from __future__ import annotations

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


def run_recipe(name: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "WORK": str(tmp_path / "work"), "NGPU": "0", **env}
    for key in ("DATA_DIR", "GRID", "TEACHER", "STAGES", "SRC", "TGT", "NNODES", "CPU_PROCS"):
        if key not in env:
            full.pop(key, None)
    return subprocess.run(["bash", str(ROOT / "examples" / name / "run.sh")], env=full, capture_output=True,
                          text=True, timeout=600)


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
