"""Delta-posterior iterative refinement for latent-variable NAT (Shu et al. 2020, LaNMT; Lee et al. 2020).

For each source x and each candidate (top-L lengths T from p(T|x) × S latent starts):

    z_0 = prior mode (Gaussian mean; flow f⁻¹(0; x)), or a prior sample at temperature τ (latent search)
    ŷ_0 = argmax_y p(y | z_0, x)
    for k = 1..K:  z_k = E_q[z | x, ŷ_{k−1}],  ŷ_k = argmax_y p(y | z_k, x);  stop when ŷ_k = ŷ_{k−1}

Candidates are ranked by log p(ŷ|z,x) + log p(T|x) (``--latent-rank likelihood``, the default), by an
estimate of the ELBO of ŷ (``--latent-rank elbo``: log p(T|x) + log p(ŷ|z',x) − KL(q(z|x,ŷ) ‖ p(z|x)) with one
seeded sample z' of q), or, with an AR teacher (``--iter-decode-with-external-reranker``, teacher last in
``--path``), by the teacher's log p(ŷ|x). Never by the density log p(z|x): it sums over T·d_z dims (about
−d_z nats per position) and so favours short candidates. Every distinct candidate is returned, best first
(``--nbest`` prints them); candidates that decode to the same ŷ are kept once, with the best score. With S = 1 decoding is deterministic (the prior mode); latent search and the ELBO
ranking draw their noise sentence by sentence, each sentence from its own ``torch.Generator`` seeded by
(``--seed``, the sentence's id ``sample["id"]``), on the CPU: a sentence's output does not depend on the other
sentences of its batch, on the batch size or on the device.
All index tensors are built on the input's device: CPU and CUDA take the same path.

Cost: decoding runs the passes above and little else (``fairseq-nat-study bench`` reports each decoder's
latency against the sum of its passes timed alone): no copy of the encoder output with one candidate per
sentence, only the rows still changing are refined, no log-probabilities for ŷ_0 when a step re-decodes it,
and one host copy per refinement step (its early-stop test) and two per batch for the hypotheses.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from fairseq.iterative_refinement_generator import IterativeRefinementGenerator

from fairseq_nat_study.generation.reranking import teacher_log_prob
from fairseq_nat_study.utils.errors import PluginError
from fairseq_nat_study.utils.flag_checks import require_float, require_int
from fairseq_nat_study.utils.tensor import lengths_to_valid_mask

#: How candidates are ranked without an AR teacher.
RANKINGS = ("likelihood", "elbo")
#: Noise streams of one sentence: the prior samples of latent search, and the posterior sample of the ELBO rank.
SEARCH_STREAM, ELBO_STREAM = 0, 1


def sentence_seed(seed: int, sentence_id: int, stream: int) -> int:
    """The seed of one sentence's noise stream: a fixed function of (``--seed``, sentence id, stream)."""
    return ((seed * 1_000_003 + sentence_id) * 7 + stream) % 2**63


def sentence_noise(ids: list[int], per_sentence: int, lengths: torch.Tensor, dim: int, seed: int, stream: int,
                   like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise for the candidate rows, drawn sentence by sentence.

    Args:
        ids: the sentence id of each of the B sentences (``sample["id"]``).
        per_sentence: candidates per sentence, n; row ``b·n + c`` is candidate c of sentence b.
        lengths: [B·n] candidate lengths T. dim: D_z. seed: ``--seed``. stream: ``SEARCH_STREAM`` or ``ELBO_STREAM``.
        like: a tensor giving the dtype and device of the result.

    Returns:
        [B·n, max T, D] noise, zero beyond each row's length; a sentence's rows are drawn in float32 on the CPU from a
        generator seeded by ``sentence_seed(seed, id, stream)``, as one [n, its longest T, D] draw, so that they
        depend on nothing outside the sentence.
    """
    sizes = lengths.view(len(ids), per_sentence).tolist()
    out = torch.zeros(len(ids) * per_sentence, max(max(row) for row in sizes), dim)
    for b, (sid, row) in enumerate(zip(ids, sizes)):
        gen = torch.Generator().manual_seed(sentence_seed(seed, sid, stream))
        draw = torch.randn(per_sentence, max(row), dim, generator=gen)
        for c, size in enumerate(row):
            out[b * per_sentence + c, :size] = draw[c, :size]
    return out.to(device=like.device, dtype=like.dtype)


class LatentRefinementGenerator(IterativeRefinementGenerator):
    """fairseq generator protocol for ``nat_study_latent`` models."""

    def __init__(self, tgt_dict: Any, max_iter: int = 1, beam_size: int = 1, adaptive: bool = True,
                 retain_history: bool = False, reranking: bool = False, latent_samples: int = 1,
                 temperature: float = 1.0, seed: int = 1, rank: str = "likelihood", **kwargs: Any) -> None:
        super().__init__(tgt_dict, max_iter=max_iter, beam_size=beam_size, adaptive=adaptive,
                         retain_history=retain_history, reranking=reranking, **kwargs)
        where = "latent refinement"
        require_int(where, "--iter-decode-max-iter", max_iter, 0, "refinement steps; 0: none")
        require_int(where, "--iter-decode-with-beam", beam_size, 1, "length candidates per sentence")
        require_int(where, "--latent-search-samples", latent_samples, 1, "latent starts per length candidate; 1: the "
                    "prior mode only")
        if latent_samples > 1:
            require_float(where, "--latent-search-temperature", temperature, "the scale of the prior samples' base "
                          "noise; for the prior mode alone use --latent-search-samples 1", low=0.0, low_open=True)
        if rank not in RANKINGS:
            raise PluginError(f"{where}: --latent-rank must be one of {RANKINGS}, got {rank!r}")
        self.latent_samples = latent_samples
        self.temperature = temperature
        self.seed = seed
        self.rank = rank

    @torch.no_grad()
    def generate(self, models: Sequence[Any], sample: dict[str, Any], prefix_tokens: Any = None,
                 constraints: Any = None) -> list[list[dict[str, Any]]]:
        if constraints is not None or prefix_tokens is not None:
            raise NotImplementedError("latent refinement supports neither constraints nor prefixes")
        model, teacher = models[0], None
        if self.reranking:
            if len(models) < 2:
                raise PluginError("--iter-decode-with-external-reranker: give the AR teacher last in --path")
            teacher = models[-1]
        classes = 2 * model.length_predictor.max_offset + 1
        if self.beam_size > classes:
            raise PluginError(f"latent refinement: --iter-decode-with-beam {self.beam_size} asks for more length "
                              f"candidates than the model's length predictor has ({classes}: --length-max-offset "
                              f"{model.length_predictor.max_offset}); use --iter-decode-with-beam {classes} or fewer")
        for m in models:
            if m.training:  # eval() walks every submodule: a cost per call when the caller has done it already
                m.eval()
        src_tokens, src_lengths = sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"]
        bsz, device = src_tokens.size(0), src_tokens.device
        n_cand = self.beam_size * self.latent_samples
        ids = sample["id"].tolist() if sample.get("id") is not None else list(range(bsz))

        encoder_out = model.encode(src_tokens, src_lengths)
        length_logits, src_len = model.length_logits(encoder_out)
        lengths, length_lp = model.length_predictor.top_lengths(length_logits, src_len, self.beam_size)
        rows = None  # candidate row -> sentence; None: one candidate per sentence, rows are sentences
        if n_cand > 1:
            # candidate c of sentence b sits at row b·n_cand + c; c = length index · S + sample index
            lengths = lengths.repeat_interleave(self.latent_samples, dim=1)
            length_lp = length_lp.repeat_interleave(self.latent_samples, dim=1)
            rows = torch.arange(bsz, device=device).repeat_interleave(n_cand)
            encoder_out = model.encoder.reorder_encoder_out(encoder_out, rows)
        lengths, length_lp = lengths.reshape(-1), length_lp.reshape(-1)
        fixed = _FixedPositions(lengths_to_valid_mask(lengths), self.eos, self.pad)

        z = self._initial_latent(model, fixed.valid, encoder_out, ids, lengths)
        # ŷ_0's scores are only read when no refinement step follows (every step re-decodes every row)
        tokens, token_lp = self._decode(model, z, fixed, encoder_out, scores=self.max_iter == 0)
        history = [tokens] if self.retain_history else None  # never written in place below
        steps = torch.zeros_like(lengths)
        idx, sub_fixed, sub_enc, sub_tokens = None, fixed, encoder_out, tokens  # rows still refining (None: all)
        for k in range(self.max_iter):
            z = model.posterior_params(sub_tokens, sub_enc)[0] * sub_fixed.valid.unsqueeze(-1)
            new_tokens, new_lp = self._decode(model, z, sub_fixed, sub_enc)
            if idx is None:
                tokens, token_lp = new_tokens, new_lp
                steps += 1
            else:
                tokens, token_lp = tokens.index_copy(0, idx, new_tokens), token_lp.index_copy(0, idx, new_lp)
                steps.index_add_(0, idx, torch.ones_like(idx))
            if history is not None:
                history.append(tokens)
            if not self.adaptive or k == self.max_iter - 1:
                sub_tokens = new_tokens
                continue
            still = (new_tokens != sub_tokens).any(1).nonzero(as_tuple=True)[0]  # one host sync per step
            if still.numel() == 0:
                break
            if still.numel() < new_tokens.size(0):  # some rows stopped: refine the others only
                idx = still if idx is None else idx[still]
                sub_fixed, sub_tokens = sub_fixed.select(still), new_tokens.index_select(0, still)
                sub_enc = model.encoder.reorder_encoder_out(sub_enc, still)
            else:
                sub_tokens = new_tokens

        if teacher is not None:
            rows = torch.arange(bsz, device=device) if rows is None else rows
            score = teacher_log_prob(teacher, src_tokens, src_lengths, rows, tokens, self.eos, self.pad)[0]
        elif self.rank == "elbo":
            score = self._elbo(model, tokens, fixed.valid, encoder_out, length_lp, ids, lengths, n_cand)
        else:
            score = token_lp.sum(1) + length_lp
        return self._finalize(bsz, n_cand, tokens, token_lp, score, steps, lengths, history)

    def _initial_latent(self, model: Any, valid: torch.Tensor, encoder_out: dict[str, Any], ids: list[int],
                        lengths: torch.Tensor) -> torch.Tensor:
        """z_0: the prior mode for the first sample of every length, prior samples at τ for the others (noise seeded
        per sentence, ``sentence_noise``)."""
        z = model.prior.mode(valid, encoder_out)
        if self.latent_samples > 1:
            noise = sentence_noise(ids, self.beam_size * self.latent_samples, lengths, z.size(-1), self.seed,
                                   SEARCH_STREAM, z)
            sampled, _ = model.prior.sample(valid, encoder_out, self.temperature, noise=noise)
            is_sample = (torch.arange(valid.size(0), device=valid.device) % self.latent_samples) != 0
            z = torch.where(is_sample[:, None, None], sampled, z)
        return z

    def _decode(self, model: Any, z: torch.Tensor, fixed: _FixedPositions, encoder_out: dict[str, Any],
                scores: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """ŷ = argmax p(y|z,x) with EOS at position T−1 -> (tokens [N, T], log p(ŷ_t|z,x) [N, T], 0 off tokens).

        Without ``scores`` the argmax is taken over the logits (the same tokens: log-softmax keeps each row's
        order) and the log-probabilities are not computed (None)."""
        out = model.decode(z, fixed.valid, encoder_out, normalize=scores)
        # EOS only at the end, which the length fixes; never pad
        out.index_fill_(-1, fixed.specials, float("-inf"))
        token_lp, tokens = out.max(-1)
        tokens = torch.where(fixed.mask, fixed.tokens, tokens)
        return tokens, token_lp.masked_fill(fixed.mask, 0.0) if scores else None

    def _elbo(self, model: Any, tokens: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any],
              length_lp: torch.Tensor, ids: list[int], lengths: torch.Tensor, n_cand: int) -> torch.Tensor:
        """One-sample ELBO of each candidate ŷ: log p(T|x) + log p(ŷ|z',x) − KL(q(z|x,ŷ) ‖ p(z|x)), z' ~ q(z|x,ŷ)
        drawn with noise seeded per sentence (``sentence_noise``) -> [N]."""
        mean_q, logvar_q = model.posterior_params(tokens, encoder_out)
        noise = sentence_noise(ids, n_cand, lengths, mean_q.size(-1), self.seed, ELBO_STREAM, mean_q)
        z = (mean_q + torch.exp(0.5 * logvar_q) * noise) * valid.unsqueeze(-1)  # z' = μ + σ·ε
        log_probs = model.decode(z, valid, encoder_out, normalize=True)
        words = valid & tokens.ne(self.eos)
        log_py = log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1).masked_fill(~words, 0.0).sum(1)
        kl = model.kl(z, mean_q, logvar_q, valid, encoder_out)
        return length_lp + log_py - kl

    def _finalize(self, bsz: int, n_cand: int, tokens: torch.Tensor, token_lp: torch.Tensor, score: torch.Tensor,
                  steps: torch.Tensor, lengths: torch.Tensor,
                  history: list[torch.Tensor] | None) -> list[list[dict[str, Any]]]:
        """fairseq's hypotheses, best first per sentence (ties keep candidate order), each distinct ŷ once with
        its best score; tokens and positional scores are views of each row's first T positions (rows are
        right-padded), scores 0-dim tensors."""
        rows = range(bsz)  # one candidate per sentence: nothing to rank or deduplicate
        if n_cand > 1:
            order = score.view(bsz, n_cand).sort(dim=1, descending=True, stable=True)[1]
            rows = (order + torch.arange(0, bsz * n_cand, n_cand, device=order.device)[:, None]).view(-1).tolist()
        sizes, done = lengths.tolist(), steps.tolist()  # host copies for the whole batch, not several per row
        token_rows, lp_rows, score_rows = tokens.unbind(0), token_lp.unbind(0), score.unbind(0)
        seen_rows = tokens.tolist() if n_cand > 1 else None
        finalized: list[list[dict[str, Any]]] = []
        seen: set[tuple[int, ...]] = set()
        for i, r in enumerate(rows):
            if i % n_cand == 0:
                finalized.append([])
                seen = set()
            size = sizes[r]
            if seen_rows is not None:
                key = tuple(seen_rows[r][:size])
                if key in seen:  # the same ŷ from another candidate: keep only its best-scored entry
                    continue
                seen.add(key)
            hypo = {"tokens": token_rows[r][:size], "positional_scores": lp_rows[r][:size], "score": score_rows[r],
                    "steps": done[r], "hypo_attn": None, "alignment": None}
            if history is not None:  # this candidate's ŷ_0 .. ŷ_k, not later no-op steps
                hypo["history"] = [{"tokens": h[r][:size]} for h in history[: done[r] + 1]]
            finalized[-1].append(hypo)
        return finalized


class _FixedPositions:
    """What the candidate lengths fix in every decoder pass: valid [N, T]; ``mask`` [N, T] (EOS at T−1 and
    padding, whose tokens are not predicted); ``tokens`` [N, T] (EOS / pad there); ``specials`` [2] (EOS, pad:
    never an argmax)."""

    def __init__(self, valid: torch.Tensor, eos: int, pad: int) -> None:
        self.eos, self.pad = eos, pad
        self.valid = valid
        is_eos = torch.arange(valid.size(1), device=valid.device)[None, :] == (valid.sum(1) - 1)[:, None]
        self.mask = is_eos | ~valid
        self.tokens = torch.full_like(valid, pad, dtype=torch.long).masked_fill_(is_eos, eos)
        self.specials = torch.tensor([eos, pad], device=valid.device)

    def select(self, rows: torch.Tensor) -> _FixedPositions:
        """The same for a subset of rows [M]."""
        sub = object.__new__(_FixedPositions)
        sub.eos, sub.pad, sub.specials = self.eos, self.pad, self.specials
        sub.valid, sub.mask, sub.tokens = (t.index_select(0, rows) for t in (self.valid, self.mask, self.tokens))
        return sub
