"""Latent search with AR rescoring in the study: the decoder keeps the candidate the teacher scores highest, the
evaluation records its BLEU, the speed stage times it beside the K-step decoders, and the report tables it."""
from __future__ import annotations

from pathlib import Path

import pytest

from fairseq_nat_study.study.config import EvalConfig, StudyConfigError, from_dict
from fairseq_nat_study.study.report.search_table import search_table

AR = {"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 10}
GA = {"name": "ga", "family": "latent", "arch": "nat_study_ga_tiny", "max_update": 10, "data": ["raw"]}


def _decode_all(gen, model, task, dataset) -> dict[int, dict]:
    from fairseq_nat_study.analysis.loglik import iterate_batches, model_max_positions, to_model_device

    out = {}
    for sample in iterate_batches(task, dataset, max_tokens=None, max_sentences=32,
                                  max_positions=model_max_positions(model, task)):
        hypos = gen.generate([model], to_model_device(sample, model))
        for i, sid in enumerate(sample["id"].tolist()):
            out[sid] = hypos[i][0]
    return out


def test_the_search_keeps_the_candidate_the_teacher_scores_highest(two_mode) -> None:
    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.analysis.speed import build_generator, build_search_generator

    model, task = load_model_and_task(str(two_mode.latent), str(two_mode.data))
    teacher, _ = load_model_and_task(str(two_mode.ar), str(two_mode.data))
    test = load_split(task, str(two_mode.data), "test")
    default = _decode_all(build_generator(model, task, 1, 1), model, task, test)
    # one candidate (the prior mode at the most likely length), scored by the teacher: the default output
    single = _decode_all(build_search_generator(model, task, teacher, 1, 1, 1), model, task, test)
    search = _decode_all(build_search_generator(model, task, teacher, 4, 3, 1, seed=5), model, task, test)
    assert all(single[i]["tokens"].tolist() == default[i]["tokens"].tolist() for i in default)
    # the search's candidates include that one: the teacher's pick scores at least as high, for every sentence
    assert all(float(search[i]["score"]) >= float(single[i]["score"]) - 1e-4 for i in default)
    assert any(float(search[i]["score"]) > float(single[i]["score"]) + 1e-3 for i in default)
    with pytest.raises(ValueError, match="got a ar model and a latent teacher"):
        build_search_generator(teacher, task, model, 2, 1, 1)


def test_the_evaluation_and_the_speed_stage_record_the_search(two_mode) -> None:
    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.study.evaluate import evaluate_checkpoint
    from fairseq_nat_study.study.speed_stage import measure_speed

    model, task = load_model_and_task(str(two_mode.latent), str(two_mode.data))
    teacher, _ = load_model_and_task(str(two_mode.ar), str(two_mode.data))
    test = load_split(task, str(two_mode.data), "test")
    refs = [task.target_dictionary.string(test.tgt[i]) for i in range(len(test))]
    ev = EvalConfig(refine_steps=[1], decode_steps=1, iw_samples=1, length_beam=2, search_samples=3,
                    bench_sentences=3, bench_batch=64)
    row = evaluate_checkpoint(model, task, test, refs, ev, lang="en", full=True, speed=False, teacher=teacher,
                              progress=lambda s: None)
    s = row["search"]
    assert (s["samples"], s["length_beam"], s["steps"], s["temperature"]) == (3, 2, 1, 1.0)
    assert 0 <= s["bleu"] <= 100 and len(s["bleu_stats"]) == len(test) and s["empty_outputs"] == 0
    assert "search" not in evaluate_checkpoint(model, task, test, refs, ev, lang="en", full=True, speed=False,
                                               progress=lambda s: None)  # no teacher: no search
    out = measure_speed([("tr", "raw", two_mode.ar), ("ga", "raw", two_mode.latent)], two_mode.data, ev,
                        progress=lambda s: None, teacher=two_mode.ar)
    rows = {(r["model"], r["config"], r["batch_size"]): r for r in out["rows"]}
    searched = rows["ga", "search 3×2, K=1 + AR", 1]
    assert searched["limit_ms_per_sentence"] is None  # many candidates per sentence: no pass-count limit
    assert searched["latency_ratio_vs_ar"] == round(rows["tr", "beam 4", 1]["ms_per_sentence"]
                                                    / searched["ms_per_sentence"], 2)
    assert rows["ga", "K=1", 1]["limit_ms_per_sentence"] is not None and ("tr", "search 3×2, K=1 + AR", 1) not in rows


def test_the_report_tables_both_decoders_against_the_teacher() -> None:
    final = {("tr", "raw"): {"bleu": 30.0},
             ("ga", "dist"): {"bleu": 24.5, "search": {"samples": 8, "length_beam": 4, "steps": 1, "temperature": 1.0,
                                                       "bleu": 27.25}}}
    speed = {"rows": [{"model": "ga", "data": "dist", "config": "K=1", "batch_size": 1, "ms_per_sentence": 2.0,
                       "latency_ratio_vs_ar": 6.0},
                      {"model": "ga", "data": "dist", "config": "search 8×4, K=1 + AR", "batch_size": 1,
                       "ms_per_sentence": 6.0, "latency_ratio_vs_ar": 2.0}]}
    lines = search_table({"config": {"teacher": "tr"}, "speed": speed}, final)
    assert "| ga | dist | K=1, one length | 24.50 | 5.50 | 2.00 | 6.00 |" in lines
    assert "| ga | dist | 8 samples × 4 lengths, K=1, ranked by the teacher | 27.25 | 2.75 | 6.00 | 2.00 |" in lines
    assert "(raw, beam 4: 30.00)" in lines[-2]
    assert search_table({"config": {"teacher": "tr"}}, {("tr", "raw"): {"bleu": 30.0}}) == []
    untimed = search_table({"config": {"teacher": "tr"}}, final)
    assert "| ga | dist | K=1, one length | 24.50 | 5.50 | n/a | n/a |" in untimed


def test_the_search_is_configured_checked_and_recorded_only_where_set(tmp_path: Path) -> None:
    from fairseq_nat_study.study.pipeline import Study

    plain = from_dict({"teacher": "tr", "models": [AR, GA]})
    assert "search_samples" not in plain.as_dict()["eval"]  # a study without it records what it did before
    on = from_dict({"teacher": "tr", "models": [AR, GA], "eval": {"search_samples": 8, "search_temperature": 0.5}})
    assert on.as_dict()["eval"]["search_samples"] == 8 and on.as_dict()["eval"]["search_temperature"] == 0.5
    with pytest.raises(StudyConfigError, match="eval.search_temperature: must be > 0 with search_samples, got 0"):
        from_dict({"teacher": "tr", "models": [AR, GA], "eval": {"search_samples": 8, "search_temperature": 0}})
    # the latent run's evaluation waits for the teacher that ranks its candidates; without the search it does not
    graph = {s.name: s for s in Study(on, tmp_path / "on", progress=lambda s: None).graph()}
    assert graph["eval-ga-raw"].after == ("train-ga-raw", "train-tr-raw") and graph["eval-tr-raw"].after == ("train-tr-raw",)
    with pytest.raises(FileNotFoundError, match="tr-raw: training left no checkpoint_last.pt"):
        Study(on, tmp_path / "on", progress=lambda s: None).ranker()  # the teacher's final checkpoint, once trained
    graph = {s.name: s for s in Study(plain, tmp_path / "off", progress=lambda s: None).graph()}
    assert graph["eval-ga-raw"].after == ("train-ga-raw",)
    assert Study(plain, tmp_path / "off", progress=lambda s: None).ranker() is None
