"""The pass-count limit of a non-autoregressive decoder: what decoding one sentence would cost if the generator
added nothing to the network passes its algorithm needs, each pass timed on the same sentence.

- NAT, one pass (fairseq's generator, ``--iter-decode-max-iter 0``): encoder and length head, one decoder pass.
- Latent model, K delta-posterior steps (``generation/latent_refinement.py``): encoder and length head, the
  prior mode (Gaussian: one prior pass; flow: one inverse pass f⁻¹(0; x)), then 1 + s decoder passes and s
  posterior passes, where s ≤ K is the number of steps the decoder ran for the sentence (it stops early when
  the output repeats).

Each pass is the model's own call, as the decoder makes it, on the top length candidate. AR beam search has no
limit here (its passes depend on the search).
"""
from __future__ import annotations

import time
from typing import Any

import torch

from fairseq_nat_study.utils.tensor import lengths_to_valid_mask


def _timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def limit_seconds(times: dict[str, float], steps: int) -> float:
    """The limit from the pass times: ``encoder`` (with the length head) + ``prior`` + (1 + s)·``decoder`` +
    s·``posterior`` for a latent model; ``encoder`` + ``decoder`` for NAT (no prior or posterior times)."""
    if "prior" not in times:
        return times["encoder"] + times["decoder"]
    return times["encoder"] + times["prior"] + (1 + steps) * times["decoder"] + steps * times["posterior"]


@torch.no_grad()
def pass_times(model: Any, family: str, sample: dict[str, Any]) -> dict[str, float]:
    """Seconds of each pass for the one sentence of ``sample``: ``encoder`` (and length head), ``decoder``, and
    for latent models ``prior`` (the prior mode) and ``posterior``."""
    src_tokens, src_lengths = sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"]
    if family == "nat":
        def encode_and_length() -> tuple[Any, torch.Tensor]:
            enc = model.forward_encoder([src_tokens, src_lengths])
            return enc, model.initialize_output_tokens(enc, src_tokens).output_tokens

        (enc, skeleton), t_enc = _timed(encode_and_length)
        _, t_dec = _timed(lambda: model.decoder(normalize=True, prev_output_tokens=skeleton, encoder_out=enc, step=0))
        return {"encoder": t_enc, "decoder": t_dec}
    if family != "latent":
        raise ValueError(f"no pass-count limit for a {family} model")

    def encode_and_length() -> tuple[Any, torch.Tensor]:
        enc = model.encode(src_tokens, src_lengths)
        lengths, _ = model.length_predictor.top_lengths(*model.length_logits(enc), 1)
        return enc, lengths.view(-1)

    (enc, lengths), t_enc = _timed(encode_and_length)
    valid = lengths_to_valid_mask(lengths)
    z, t_prior = _timed(lambda: model.prior.mode(valid, enc))
    log_probs, t_dec = _timed(lambda: model.decode(z, valid, enc, normalize=True))
    tokens = log_probs.argmax(-1).masked_fill(~valid, model.pad)
    _, t_post = _timed(lambda: model.posterior_params(tokens, enc))
    return {"encoder": t_enc, "prior": t_prior, "decoder": t_dec, "posterior": t_post}


def pass_limit_seconds(model: Any, family: str, sample: dict[str, Any], steps: int) -> float:
    """Seconds of the passes one sentence needs (``sample`` holds one sentence; ``steps`` = s above)."""
    return limit_seconds(pass_times(model, family, sample), steps)
