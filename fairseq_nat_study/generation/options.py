"""Decoding options the plugin's generators cannot honour, refused before decoding with one message per flag.

fairseq-generate would otherwise crash mid-run (a negative ``--iter-decode-max-iter``, a NAT ensemble), or
print something other than what was asked without a word (a latent ensemble decoded by its first model, one
NAT hypothesis for ``--nbest 3``, a NAT checkpoint taken as the AR teacher).
"""
from __future__ import annotations

import os
import sys
from typing import Any, Sequence

from fairseq_nat_study.utils.errors import PluginError


class DecodingOptionError(PluginError):
    """A decoding flag (named in the message) the generator of these models cannot honour (a ``PluginError``:
    uncaught, one line and exit status 1)."""


def check_decoding_options(kinds: Sequence[str], args: Any, latent_samples: int = 1) -> None:
    """Raises :class:`DecodingOptionError` for the first option these models cannot decode with.

    Args:
        kinds: ``ar``, ``nat`` or ``latent`` for every model of ``--path``, in order.
        args: the generation options (``iter_decode_*``, ``nbest``).
        latent_samples: the task's ``--latent-search-samples``.

    Each flag's own range is checked before the flags are combined, so that a message blames the flag that is
    wrong (``--latent-search-samples 0``, not the ``--nbest`` it makes too large).
    """
    if not kinds or kinds[0] == "ar":
        return
    name = "latent" if kinds[0] == "latent" else "non-autoregressive"

    max_iter = getattr(args, "iter_decode_max_iter", 10)
    beam = getattr(args, "iter_decode_with_beam", 1)
    nbest = getattr(args, "nbest", 1)
    reranking = getattr(args, "iter_decode_with_external_reranker", False)
    if max_iter < 0:
        raise DecodingOptionError(f"--iter-decode-max-iter must be >= 0 (0: no refinement step), got {max_iter}")
    if beam < 1:
        raise DecodingOptionError(f"--iter-decode-with-beam must be >= 1, got {beam}")
    if nbest < 1:
        raise DecodingOptionError(f"--nbest must be >= 1 (hypotheses printed per sentence), got {nbest}")
    if kinds[0] == "latent" and getattr(args, "iter_decode_eos_penalty", 0.0):
        raise DecodingOptionError(
            f"--iter-decode-eos-penalty {args.iter_decode_eos_penalty:g}: a latent model fixes each candidate's length "
            "from p(T|x), so no EOS penalty applies; drop it, and widen the lengths with --iter-decode-with-beam")
    if kinds[0] == "latent" and latent_samples < 1:
        raise DecodingOptionError(f"--latent-search-samples must be >= 1 (latent starts per length candidate; 1: the "
                                  f"prior mode only), got {latent_samples}")
    decoders = list(kinds[:-1]) if reranking else list(kinds)
    if reranking:
        if len(kinds) < 2:
            raise DecodingOptionError("--iter-decode-with-external-reranker: give the AR teacher last in --path "
                                      "(--path MODEL.pt:TEACHER.pt)")
        if kinds[-1] != "ar":
            raise DecodingOptionError(
                f"--iter-decode-with-external-reranker: the last --path checkpoint (number {len(kinds)}) is a "
                f"{'latent' if kinds[-1] == 'latent' else 'non-autoregressive'} model; the reranker must be an "
                "autoregressive teacher (e.g. nat_study_tr_*) trained on the same data")
        if kinds[0] == "nat" and beam < 2:
            raise DecodingOptionError("--iter-decode-with-external-reranker with a non-autoregressive model "
                                      "reranks length candidates: give --iter-decode-with-beam >= 2")
    if len(decoders) > 1:
        raise DecodingOptionError(
            f"--path gives {len(decoders)} {name} checkpoints: "
            "ensembles of non-autoregressive models are not supported; give one checkpoint (and, with "
            "--iter-decode-with-external-reranker, the AR teacher after it)")
    if kinds[0] == "nat" and nbest > 1:
        raise DecodingOptionError(
            f"--nbest {nbest}: fairseq's iterative-refinement generator keeps one hypothesis per sentence (the best "
            "of the --iter-decode-with-beam length candidates); use --nbest 1, or a latent model, which returns "
            "every distinct candidate")
    if kinds[0] == "latent":
        candidates = beam * latent_samples
        if nbest > candidates:
            raise DecodingOptionError(
                f"--nbest {nbest}: a latent model decodes --iter-decode-with-beam × --latent-search-samples = "
                f"{candidates} candidate(s) per sentence; raise one of them or lower --nbest")


def refuse(message: object) -> "NoReturn":  # noqa: F821
    """Ends a fairseq CLI as argparse's ``parser.error`` does: ``<prog>: error: <message>``, exit status 2."""
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "fairseq"
    text = getattr(message, "message", message)  # a PluginError's str() already carries the prefix
    print(f"{prog}: error: {text}", file=sys.stderr)
    raise SystemExit(2)
