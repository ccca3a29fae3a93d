"""The README's headline table is what ``docs/results/*/results.json`` give: re-rendered, it is unchanged."""
from __future__ import annotations

import json
import shutil
from argparse import Namespace
from pathlib import Path

import pytest

from fairseq_nat_study.cli import docs as docs_cli
from fairseq_nat_study.study.report.headline import BEGIN, END, load_profiles, render, rendered, replace_block

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"


def test_readme_headline_matches_results() -> None:
    old, new = rendered(ROOT / "README.md", RESULTS)
    assert old == new, "README's headline block is stale: run `fairseq-nat-study docs --readme README.md --results docs/results`"


def test_table_holds_the_final_checkpoints_figures() -> None:
    """Every row's BLEU and LL is its run's final-checkpoint record, read here independently."""
    profiles = load_profiles(RESULTS)
    names = [name for name, _ in profiles]
    assert names[:3] == ["quick_synthetic", "quick_synthetic_seeds", "synthetic_findings"]  # synthetic first
    table = render(profiles)
    for name, results in profiles:
        assert f"[{name}](docs/results/{name}/)" in table
        for run in results.get("runs", []):  # a reading over seeds: its mean ± std, tested below
            final = [p for p in run["points"] if p["final"]]
            assert len(final) == 1
            assert f"{final[0]['bleu']:.2f}" in table and f"{final[0]['ll_per_token']:.3f}" in table
    quick = dict(profiles)["quick_synthetic"]
    row = next(line for line in table.splitlines() if line.startswith("| [quick_synthetic]"))
    tc = quick["total_correlation"]
    assert f"{tc['raw']['C_hat_per_sentence']:.3f} / {tc['dist']['C_hat_per_sentence']:.3f}" in row
    assert f"(C {quick['data']['stats']['splits']['valid']['C']:.3f})" in row
    assert "20,000 training / 500 test pairs" in table and "seed 1" in table


def test_a_changed_result_changes_the_table(tmp_path: Path) -> None:
    shutil.copytree(RESULTS / "quick_synthetic", tmp_path / "quick_synthetic",
                    ignore=shutil.ignore_patterns("*.png"))
    path = tmp_path / "quick_synthetic" / "results.json"
    before = render(load_profiles(tmp_path))
    results = json.loads(path.read_text())
    next(p for p in results["runs"][1]["points"] if p["final"])["bleu"] = 12.345
    path.write_text(json.dumps(results))
    after = render(load_profiles(tmp_path))
    assert "12.35" in after and "12.35" not in before and "69.76" in before and "69.76" not in after


def test_replace_block_keeps_the_rest_and_refuses_bad_markers() -> None:
    text = f"head\n{BEGIN}\nold\n{END}\ntail\n"
    assert replace_block(text, "new\n") == f"head\n{BEGIN}\nnew\n{END}\ntail\n"
    for bad in ("no markers", f"{END}\n{BEGIN}\n", f"{BEGIN}\n{BEGIN}\n{END}\n"):
        with pytest.raises(ValueError, match="needs one"):
            replace_block(bad, "x")


def test_docs_tool_check_and_rewrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--check`` exits 1 on a stale block and writes nothing; without it the block is rewritten."""
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{BEGIN}\nstale\n{END}\n")
    args = Namespace(readme=str(readme), results=str(RESULTS), check=True)
    assert docs_cli.main(args) == 1
    assert "stale" in readme.read_text()
    assert docs_cli.main(Namespace(**{**vars(args), "check": False})) == 0
    assert "stale" not in readme.read_text() and "| study | model |" in readme.read_text()
    assert docs_cli.main(args) == 0
    readme.write_text("no markers\n")
    assert docs_cli.main(args) == 2
    assert "fairseq-nat-study docs: error:" in capsys.readouterr().err


def test_docs_tool_imports_neither_torch_nor_fairseq() -> None:
    """``fairseq-nat-study docs`` runs where only the docs requirements are installed (``make docs``)."""
    import subprocess
    import sys

    code = ("import sys\nfrom fairseq_nat_study.cli.main import main\n"
            f"assert main(['docs', '--check', '--readme', {str(ROOT / 'README.md')!r}, '--results', {str(RESULTS)!r}]) == 0\n"
            "print([m for m in ('torch', 'fairseq', 'numpy', 'hydra') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_a_reading_over_seeds_gives_mean_and_std_and_its_first_seeds_machine(tmp_path: Path) -> None:
    """A profile run with ``--seeds`` (its ``results.json`` the aggregate) shows each figure as mean ± sample std
    over the seeds; the machine and data come from the first seed's record."""
    from fairseq_nat_study.study.report.seeds import write_seeds_report

    one = json.loads((RESULTS / "quick_synthetic" / "results.json").read_text())
    per_seed, paths = [], []
    for seed, shift in ((1, 0.0), (2, 1.0)):
        res = json.loads(json.dumps(one))
        res["config"]["seed"] = seed
        for run in res["runs"]:
            for p in run["points"]:
                p["bleu"] += shift
        paths.append(tmp_path / "prof" / f"seed-{seed}" / "results.json")
        paths[-1].parent.mkdir(parents=True)
        paths[-1].write_text(json.dumps(res))
        per_seed.append(res)
    write_seeds_report(per_seed, paths, tmp_path / "prof", {"config": one["config"]})
    table = render(load_profiles(tmp_path))
    final = next(p for p in one["runs"][1]["points"] if p["final"])
    # two seeds 1 BLEU apart: mean +0.5, sample std sqrt(0.5)
    assert f"| {final['bleu'] + 0.5:.2f} ± 0.71 |" in table
    assert f"{final['ll_per_token']:.3f} ± 0.000" in table
    assert "`prof`: 2 training seeds (1, 2), mean ± sample std over them" in table
    assert "2 cores, 2 stages at a time" in table and "20,000 training / 500 test pairs" in table
    paths[0].unlink()
    with pytest.raises(FileNotFoundError, match="seed 1's results are not at"):
        load_profiles(tmp_path)


def test_a_sweep_folder_beside_the_profiles_has_no_row(tmp_path: Path) -> None:
    shutil.copytree(RESULTS / "quick_synthetic", tmp_path / "quick_synthetic", ignore=shutil.ignore_patterns("*.png"))
    (tmp_path / "c_sweep").mkdir()
    (tmp_path / "c_sweep" / "results.json").write_text(json.dumps({"name": "sweep", "points": [], "findings": []}))
    assert [name for name, _ in load_profiles(tmp_path)] == ["quick_synthetic"]
