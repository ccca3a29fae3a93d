"""Decoding outputs that must not change when the decoders get faster.

Tiny models are built directly (fixed seed, every parameter perturbed so that the zero-initialised heads
are not trivial; refinement takes 1 to 4 steps on these sentences) and decoded by the generators; the outputs
are checked against:

- a straightforward reference decoder written here, one sentence and one length candidate at a time, from the
  algorithm's definition (prior mode from the full flow inverse, ``log_softmax`` over the vocabulary, posterior
  mean, early stop, score = Σ_t log p(ŷ_t|z,x) + log p(T|x));
- the same sentences decoded in a batch, alone, and twice (batch invariance, determinism);
- for the flow: the log-det-free inverse against the full inverse, cached LU factors against fresh ones.
"""
from __future__ import annotations

import argparse
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from fairseq.data import Dictionary, data_utils
from fairseq.iterative_refinement_generator import IterativeRefinementGenerator
from fairseq.models import ARCH_CONFIG_REGISTRY, ARCH_MODEL_REGISTRY

from fairseq_nat_study.generation.latent_refinement import LatentRefinementGenerator
from fairseq_nat_study.modules.flows.linear import InvertibleMultiHeadLinear

LENGTHS = [3, 7, 5, 9, 4, 6]


def _dictionary() -> Dictionary:
    d = Dictionary()
    for w in "abcdefghijklmnop":
        d.add_symbol(w)
    return d


def _model(arch: str) -> tuple[Any, Dictionary]:
    torch.manual_seed(0)
    d = _dictionary()
    args = argparse.Namespace(arch=arch)
    ARCH_CONFIG_REGISTRY[arch](args)
    model = ARCH_MODEL_REGISTRY[arch].build_model(args, SimpleNamespace(source_dictionary=d, target_dictionary=d))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        model.decoder.embed_tokens.weight.normal_(0.0, 1.0, generator=gen)  # outputs of several words
    return model.eval(), d


@pytest.fixture(scope="module", params=["nat_study_ga_tiny", "nat_study_fl_tiny"])
def latent(request: pytest.FixtureRequest) -> tuple[Any, Dictionary]:
    return _model(request.param)


def _sample(d: Dictionary, rows: list[int]) -> dict[str, Any]:
    """Left-padded sources of ``LENGTHS[i]`` tokens (then EOS) for each i in ``rows``."""
    gen = torch.Generator().manual_seed(2)
    src = [torch.cat([torch.randint(d.nspecial, len(d), (LENGTHS[i],), generator=gen), torch.tensor([d.eos()])])
           for i in range(len(LENGTHS))]
    src = [src[i] for i in rows]
    return {"id": torch.tensor(rows), "net_input": {
        "src_tokens": data_utils.collate_tokens(src, d.pad(), d.eos(), left_pad=True),
        "src_lengths": torch.tensor([len(s) for s in src])}}


def _argmax_decode(model: Any, z: torch.Tensor, valid: torch.Tensor, enc: Any, d: Dictionary) -> tuple[torch.Tensor, torch.Tensor]:
    log_probs = torch.log_softmax(model.decoder(z, valid, enc).float(), -1)
    log_probs[..., d.eos()] = float("-inf")
    log_probs[..., d.pad()] = float("-inf")
    token_lp, tokens = log_probs.max(-1)
    tokens[:, -1], token_lp[:, -1] = d.eos(), 0.0
    return tokens, token_lp


def _prior_mode(model: Any, valid: torch.Tensor, enc: Any) -> torch.Tensor:
    if hasattr(model.prior, "flow"):  # f⁻¹(0; x) through the full inverse (with its log-dets)
        eps = torch.zeros(*valid.shape, model.prior.latent_dim)
        return model.prior.flow.inverse(eps, valid, enc)[0]
    return model.prior.params(valid, enc)[0]


@torch.no_grad()
def reference_decode(model: Any, d: Dictionary, src: torch.Tensor, steps: int, beam: int) -> list[dict[str, Any]]:
    """Delta-posterior decoding of one sentence ``src`` [S], one length candidate at a time, best first."""
    enc = model.encode(src[None], torch.tensor([len(src)]))
    logits, src_len = model.length_logits(enc)
    lengths, length_lp = model.length_predictor.top_lengths(logits, src_len, beam)
    hypos = []
    for length, lp_t in zip(lengths[0].tolist(), length_lp[0]):
        valid = torch.ones(1, length, dtype=torch.bool)
        tokens, token_lp = _argmax_decode(model, _prior_mode(model, valid, enc), valid, enc, d)
        done = 0
        for _ in range(steps):
            z = model.posterior_params(tokens, enc)[0]
            new_tokens, token_lp = _argmax_decode(model, z, valid, enc, d)
            done += 1
            same = torch.equal(new_tokens, tokens)
            tokens = new_tokens
            if same:
                break
        assert torch.isclose(lp_t, model.length_log_prob(enc, torch.tensor([length]))[0])
        hypos.append({"tokens": tokens[0], "positional_scores": token_lp[0], "steps": done,
                      "score": token_lp.sum() + lp_t})
    return sorted(hypos, key=lambda h: -float(h["score"]))


def _assert_same(got: list[dict[str, Any]], want: list[dict[str, Any]], exact: bool = False) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g["tokens"].tolist() == w["tokens"].tolist()
        assert g["steps"] == w["steps"]
        close = torch.equal if exact else (lambda a, b: torch.allclose(a.double(), b.double(), atol=1e-5))
        assert close(g["positional_scores"], w["positional_scores"]), (g["positional_scores"], w["positional_scores"])
        assert close(torch.as_tensor(g["score"]), torch.as_tensor(w["score"]))


@pytest.mark.parametrize("steps,beam", [(0, 1), (1, 1), (4, 1), (2, 3)])
def test_latent_decoding_equals_the_reference_decoder(latent, steps: int, beam: int) -> None:
    model, d = latent
    sample = _sample(d, list(range(len(LENGTHS))))
    out = LatentRefinementGenerator(d, max_iter=steps, beam_size=beam).generate([model], sample)
    for i, hypos in enumerate(out):
        src = sample["net_input"]["src_tokens"][i]
        _assert_same(hypos, reference_decode(model, d, src[src.ne(d.pad())], steps, beam))


def test_scores_are_the_candidates_log_likelihood_under_the_model(latent) -> None:
    """The printed score of a single candidate is log p(T|x) + Σ_t log p(ŷ_t|z,x) of the positional scores."""
    model, d = latent
    sample = _sample(d, [0, 1, 2])
    out = LatentRefinementGenerator(d, max_iter=1).generate([model], sample)
    with torch.no_grad():
        enc = model.encode(sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"])
        lengths = torch.tensor([len(h[0]["tokens"]) for h in out])
        length_lp = model.length_log_prob(enc, lengths)
    for h, lp in zip(out, length_lp):
        assert h[0]["score"].dtype == torch.float32 and h[0]["score"].dim() == 0  # fairseq-generate prints it
        assert torch.isclose(h[0]["score"].double(), h[0]["positional_scores"].double().sum() + lp, atol=1e-5)


@pytest.mark.parametrize("steps,beam", [(1, 1), (3, 2)])
def test_latent_decoding_is_batch_invariant_and_deterministic(latent, steps: int, beam: int) -> None:
    model, d = latent
    gen = LatentRefinementGenerator(d, max_iter=steps, beam_size=beam, retain_history=True)
    rows = list(range(len(LENGTHS)))
    batch = gen.generate([model], _sample(d, rows))
    _assert_same([h for hs in batch for h in hs],
                 [h for hs in gen.generate([model], _sample(d, rows)) for h in hs], exact=True)
    for i in rows:
        alone = gen.generate([model], _sample(d, [i]))[0]
        _assert_same(batch[i], alone)
        for a, b in zip(batch[i], alone):
            assert [x["tokens"].tolist() for x in a["history"]] == [x["tokens"].tolist() for x in b["history"]]
            assert len(a["history"]) == a["steps"] + 1


def test_generate_on_a_model_left_in_training_mode_decodes_as_in_eval_mode(latent) -> None:
    model, d = latent
    sample = _sample(d, [0, 3])
    gen = LatentRefinementGenerator(d, max_iter=2)
    want = gen.generate([model], sample)
    model.train()
    try:
        got = gen.generate([model], sample)
        assert not model.training
    finally:
        model.eval()
    _assert_same([h for hs in got for h in hs], [h for hs in want for h in hs], exact=True)


def test_nat_decoding_is_batch_invariant() -> None:
    model, d = _model("nat_study_nat_tiny")
    gen = IterativeRefinementGenerator(d, max_iter=0)
    rows = list(range(len(LENGTHS)))
    batch = gen.generate([model], _sample(d, rows))
    for i in rows:
        alone = gen.generate([model], _sample(d, [i]))[0]
        assert batch[i][0]["tokens"].tolist() == alone[0]["tokens"].tolist()
        assert torch.allclose(batch[i][0]["positional_scores"], alone[0]["positional_scores"], atol=1e-5)


# ---- the flow's decoding pieces ---------------------------------------------------------------------------

def _flow_inputs(model: Any, d: Dictionary) -> tuple[torch.Tensor, torch.Tensor, Any]:
    sample = _sample(d, [1, 2, 4])
    enc = model.encode(sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"])
    valid = torch.tensor([[True] * 6, [True] * 4 + [False] * 2, [True] * 2 + [False] * 4])
    eps = torch.randn(3, 6, model.prior.latent_dim)
    return eps, valid, enc


@torch.no_grad()
def test_flow_log_det_free_inverse_equals_the_full_inverse() -> None:
    model, d = _model("nat_study_fl_tiny")
    eps, valid, enc = _flow_inputs(model, d)
    flow = model.prior.flow
    want = flow.inverse(eps, valid, enc)[0]
    assert torch.equal(flow.inverse_only(eps, valid, enc), want)
    assert torch.equal(model.prior.mode(valid, enc), flow.inverse(torch.zeros_like(eps), valid, enc)[0])
    assert torch.equal(want[~valid], torch.zeros_like(want[~valid]))


def _fresh_factors(lin: InvertibleMultiHeadLinear) -> tuple[torch.Tensor, ...]:
    """The LU factors computed from the parameters as they are now, without any cache."""
    eye = torch.eye(lin.head_dim, dtype=torch.float64)
    upper = torch.triu(lin.upper.detach(), 1) + torch.diag(lin.sign_s * torch.exp(lin.log_s.detach()))
    return lin.perm, torch.tril(lin.lower.detach(), -1) + eye, upper


def test_cached_lu_factors_equal_fresh_ones_and_follow_parameter_changes() -> None:
    torch.manual_seed(0)
    lin = InvertibleMultiHeadLinear(8, heads=2).double().eval()
    with torch.no_grad():
        for f, g in zip(lin.factors(torch.float64), _fresh_factors(lin)):
            assert torch.equal(f, g)
        assert lin.factors(torch.float64)[2] is lin.factors(torch.float64)[2]  # cached in eval mode
        lin.log_s.add_(0.25)  # an optimizer step: in place
        lin.upper.mul_(2.0)
        for f, g in zip(lin.factors(torch.float64), _fresh_factors(lin)):
            assert torch.equal(f, g)
        lin.load_state_dict({k: v + 0.5 if k != "perm" else v for k, v in lin.state_dict().items()})
        for f, g in zip(lin.factors(torch.float64), _fresh_factors(lin)):
            assert torch.equal(f, g)
    z = torch.randn(2, 3, 8, dtype=torch.float64)
    valid = torch.ones(2, 3, dtype=torch.bool)
    eps = lin(z, valid)[0]
    with torch.no_grad():
        back = lin.inverse_only(eps, valid)
    assert torch.allclose(back, z, atol=1e-10)
    lin.train()  # training: factors carry gradients, never a cache
    loss = lin(z, valid)[0].square().sum() + lin(z, valid)[1].sum()
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in (lin.lower, lin.upper, lin.log_s))


def test_sinusoidal_positions_equal_fairseqs_positional_embedding() -> None:
    from fairseq_nat_study.modules.cross_attention_stack import SinusoidalPositions

    positions = SinusoidalPositions(64, 16)
    valid = torch.tensor([[True] * 5 + [False] * 2, [True] * 7, [False, True, True, False, True, False, False]])
    fake_tokens = torch.where(valid, positions.padding_idx + 1, positions.padding_idx)
    assert torch.equal(positions(valid), positions.embed(fake_tokens))
    long_valid = torch.ones(1, 80, dtype=torch.bool)  # beyond the table: fairseq grows it
    assert torch.equal(positions(long_valid), positions.embed(torch.full((1, 80), positions.padding_idx + 1)))


def test_sinusoidal_positions_reused_without_autograd_only_for_the_same_unchanged_mask() -> None:
    from fairseq_nat_study.modules.cross_attention_stack import SinusoidalPositions

    a, b, wider = SinusoidalPositions(64, 16), SinusoidalPositions(64, 16), SinusoidalPositions(64, 32)
    valid = torch.tensor([[True] * 5 + [False] * 2, [True] * 7])
    with torch.no_grad():
        first = a(valid)
        assert b(valid) is first  # another instance, same mask: one lookup for the prior, posterior, decoder
        assert wider(valid).shape == (2, 7, 32)  # another size: its own encodings
        same_values = valid.clone()  # a new mask object: looked up afresh, equal values
        again = a(same_values)
        assert again is not first and torch.equal(again, first)
        same_values[0, 5] = True  # changed in place: its version moved, so not the stale result
        assert torch.equal(a(same_values), a.embed(torch.where(same_values, 2, 1)))
    assert a(valid) is not first and torch.equal(a(valid), first)  # with autograd: always computed


def test_conditioner_output_weight_is_cached_only_while_its_parameters_are_unchanged() -> None:
    from fairseq_nat_study.modules.flows.conditioners import TransformerConditioner

    model, d = _model("nat_study_fl_tiny")
    eps, valid, enc = _flow_inputs(model, d)
    cond = next(m for m in model.modules() if isinstance(m, TransformerConditioner))
    x = eps[..., :cond.inp.in_features]
    with torch.no_grad():
        first = cond(x, valid, enc)
        assert torch.equal(cond(x, valid, enc), first)  # read from the cache
        cond.out.parametrizations.weight.original0.add_(0.5)  # the gain changes in place: an optimizer step
        after = cond(x, valid, enc)
    fresh = cond(x, valid, enc).detach()  # with autograd: the weight is always recomputed
    assert not torch.equal(after, first) and torch.equal(after, fresh)


def test_plugin_nat_generator_decodes_as_fairseqs_and_still_puts_a_training_model_in_eval_mode() -> None:
    from fairseq_nat_study.generation.nat_refinement import NatRefinementGenerator

    model, d = _model("nat_study_nat_tiny")
    sample = _sample(d, list(range(len(LENGTHS))))
    want = IterativeRefinementGenerator(d, max_iter=0).generate([model], sample)
    gen = NatRefinementGenerator(d, max_iter=0)
    for training in (False, True):  # already in eval mode: no walk; left in training mode: put in eval mode
        model.train(training)
        got = gen.generate([model], sample)
        assert not model.training and not gen.retain_dropout
        for a, b in zip(got, want):
            assert a[0]["tokens"].tolist() == b[0]["tokens"].tolist()
            assert torch.equal(a[0]["positional_scores"], b[0]["positional_scores"])
