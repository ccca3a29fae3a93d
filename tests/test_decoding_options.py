"""fairseq-generate with the plugin's models: options it cannot honour are refused by flag before decoding; the
NAT external reranker scores with the AR teacher; the latent n-best list holds distinct hypotheses."""
from __future__ import annotations

from argparse import Namespace

import pytest
import torch
from fairseq.data import Dictionary

from conftest import NUM_TEST
from fairseq_helpers import run_generate
from fairseq_nat_study.distill.extract import parse_hypotheses
from fairseq_nat_study.generation.latent_refinement import LatentRefinementGenerator
from fairseq_nat_study.generation.options import DecodingOptionError, check_decoding_options

RERANK = {"iter_decode_with_external_reranker": True}


def _args(**kw: object) -> Namespace:
    return Namespace(**{"iter_decode_max_iter": 10, "iter_decode_with_beam": 1, "nbest": 1, **kw})


@pytest.mark.parametrize("kinds, options, samples, message", [
    (["nat"], {"iter_decode_max_iter": -1}, 1, "--iter-decode-max-iter must be >= 0"),
    (["latent"], {"iter_decode_max_iter": -1}, 1, "--iter-decode-max-iter must be >= 0"),
    (["nat"], {"iter_decode_with_beam": 0}, 1, "--iter-decode-with-beam must be >= 1"),
    (["nat", "nat"], {}, 1, "--path gives 2 non-autoregressive checkpoints"),
    (["latent", "latent"], {}, 1, "--path gives 2 latent checkpoints"),
    (["latent", "latent", "ar"], RERANK, 1, "--path gives 2 latent checkpoints"),
    (["latent", "nat"], RERANK, 1, "the last --path checkpoint (number 2) is a non-autoregressive model"),
    (["nat", "latent"], {**RERANK, "iter_decode_with_beam": 3}, 1, "(number 2) is a latent model"),
    (["nat"], RERANK, 1, "give the AR teacher last in --path"),
    (["nat", "ar"], RERANK, 1, "give --iter-decode-with-beam >= 2"),
    (["nat"], {"nbest": 3, "iter_decode_with_beam": 3}, 1, "--nbest 3: fairseq's iterative-refinement generator"),
    (["latent"], {"nbest": 5, "iter_decode_with_beam": 2}, 2, "--nbest 5: a latent model decodes"),
])
def test_options_the_generators_cannot_honour_are_named(kinds, options, samples, message) -> None:
    with pytest.raises(DecodingOptionError) as err:
        check_decoding_options(kinds, _args(**options), samples)
    assert message in str(err.value)


@pytest.mark.parametrize("kinds, options, samples", [
    (["ar", "ar"], {"nbest": 3}, 1),  # AR ensembles and n-best are fairseq's beam search
    (["nat"], {"iter_decode_max_iter": 0, "iter_decode_with_beam": 3}, 1),
    (["nat", "ar"], {**RERANK, "iter_decode_with_beam": 3}, 1),
    (["latent", "ar"], RERANK, 1),
    (["latent"], {"nbest": 4, "iter_decode_with_beam": 2}, 2),
])
def test_options_the_generators_honour_pass(kinds, options, samples) -> None:
    check_decoding_options(kinds, _args(**options), samples)


@pytest.mark.parametrize("paths, extra, message", [
    ("nat:nat", [], "--path gives 2 non-autoregressive checkpoints"),
    ("latent:latent", [], "--path gives 2 latent checkpoints"),
    ("latent:nat", ["--iter-decode-with-external-reranker"], "the reranker must be an autoregressive teacher"),
    ("nat", ["--nbest", "3"], "--nbest 3"),
    ("nat", ["--iter-decode-max-iter", "-1"], "--iter-decode-max-iter must be >= 0"),
])
def test_fairseq_generate_refuses_before_decoding(paths, extra, message, two_mode,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = ":".join(str(getattr(two_mode, p)) for p in paths.split(":"))
    with pytest.raises(SystemExit) as end:
        run_generate(two_mode.data, path, extra)
    assert end.value.code == 2
    err = capsys.readouterr().err
    assert ": error: " in err and message in err


def test_nat_with_the_ar_reranker_decodes_every_sentence(two_mode) -> None:
    out = run_generate(two_mode.data, f"{two_mode.nat}:{two_mode.ar}",
                       ["--iter-decode-with-external-reranker", "--iter-decode-with-beam", "3"])
    assert len(parse_hypotheses(out.splitlines(), NUM_TEST)) == NUM_TEST


def test_nat_reranker_score_is_the_teachers_mean_log_prob(two_mode) -> None:
    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.analysis.loglik import make_pair_dataset, sentence_log_likelihoods

    nat, task = load_model_and_task(str(two_mode.nat), str(two_mode.data))
    ar, _ = load_model_and_task(str(two_mode.ar), str(two_mode.data))
    dataset = load_split(task, str(two_mode.data), "test")
    sample = dataset.collater([dataset[i] for i in range(8)])
    generator = task.build_generator([nat, ar], _args(iter_decode_max_iter=0, iter_decode_with_beam=3, **RERANK))
    hypos = generator.generate([nat, ar], sample)
    src, tgt = task.source_dictionary, task.target_dictionary
    sources = [src.string(s[s.ne(src.pad())]) for s in sample["net_input"]["src_tokens"]]
    hyps = [tgt.string(h[0]["tokens"]) for h in hypos]
    pairs = make_pair_dataset(task, sources, hyps)
    ll, count = sentence_log_likelihoods(ar, pairs.collater([pairs[i] for i in range(len(pairs))]))
    scores = torch.tensor([float(h[0]["score"]) for h in hypos])
    assert torch.allclose(scores, (ll / count).float(), atol=1e-4)


def test_latent_nbest_keeps_each_hypothesis_once_with_its_best_score() -> None:
    d = Dictionary()
    a, b = d.add_symbol("a"), d.add_symbol("b")
    gen = LatentRefinementGenerator(d, beam_size=2, latent_samples=2)
    eos, pad = d.eos(), d.pad()
    tokens = torch.tensor([[a, b, eos], [b, eos, pad], [a, b, eos], [a, a, eos]])  # rows 0 and 2 are one ŷ
    score = torch.tensor([-1.0, -3.0, -0.5, -2.0])
    token_lp = torch.zeros(4, 3)
    lengths = tokens.ne(pad).sum(1)  # rows are right-padded: each ŷ is its first `length` positions
    (hypos,) = gen._finalize(1, 4, tokens, token_lp, score, torch.zeros(4, dtype=torch.long), lengths, None)
    assert [h["tokens"].tolist() for h in hypos] == [[a, b, eos], [a, a, eos], [b, eos]]
    assert [float(h["score"]) for h in hypos] == [-0.5, -2.0, -3.0]


def test_nat_model_warns_about_each_latent_option_it_ignores(two_mode, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="fairseq_nat_study"):
        run_generate(two_mode.data, two_mode.nat, ["--latent-search-samples", "3", "--latent-rank", "elbo"])
    warned = [r.getMessage() for r in caplog.records if r.name.startswith("fairseq_nat_study")]
    assert any(m.startswith("--latent-search-samples 3 is ignored") for m in warned)
    assert any(m.startswith("--latent-rank elbo is ignored") for m in warned)
    assert not any("--latent-search-temperature" in m for m in warned)
