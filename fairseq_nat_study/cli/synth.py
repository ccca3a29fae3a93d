"""``fairseq-nat-study synth``: write the synthetic corpus with its exact statistics
(see :mod:`fairseq_nat_study.data.synthetic`)."""
from __future__ import annotations

import argparse
import logging
import math

from fairseq_nat_study.cli.arg_types import positive_int, seed, unit_interval
from fairseq_nat_study.cli.errors import fail, unwritable_out_dir
from fairseq_nat_study.data.phrase_table import CROSSED_PROBS, UNEQUAL_PROBS, crossed_phrases, word_entropies
from fairseq_nat_study.data.synth_config import PRESETS, SynthConfig
from fairseq_nat_study.data.synthetic import write_corpus

logger = logging.getLogger(__name__)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the ``synth`` subcommand options to ``parser``."""
    defaults = SynthConfig()
    unequal = "/".join(f"{q:g}" for q in UNEQUAL_PROBS)
    unequal_h = ", ".join(f"{q:g}" for q in UNEQUAL_PROBS)
    unequal_c = -sum(q * math.log(q) for q in UNEQUAL_PROBS)
    crossed = "/".join(f"{q:g}" for q in CROSSED_PROBS)
    crossed_c = word_entropies(list(zip(crossed_phrases(0), CROSSED_PROBS)))[2]
    parser.add_argument("--out", required=True, help="output directory (created)")
    parser.add_argument("--seed", type=seed, default=defaults.seed, help="seed of the phrase table and every split")
    parser.add_argument("--num-train", type=positive_int, default=defaults.num_train, help="training sentence pairs")
    parser.add_argument("--num-valid", type=positive_int, default=defaults.num_valid, help="validation sentence pairs")
    parser.add_argument("--num-test", type=positive_int, default=defaults.num_test, help="test sentence pairs")
    parser.add_argument(
        "--preset", choices=PRESETS, default=defaults.preset,
        help="default: deterministic words of 1-2 target tokens, ambiguous words with 2-3 alternatives of "
        "2-3 tokens (tokens may be shared) at random unequal probabilities (a0: 'no problem' / 'of course' at 0.5/0.5); two_mode: exactly one a0 per sentence, "
        "C = log 2 per sentence; aligned: every word a two-token phrase (target length 2|x|), ambiguous "
        "words with 2-3 tied alternatives sharing no token (C = log k per word); unequal: the aligned "
        f"layout with three alternatives per ambiguous word at {unequal}, one best translation per word "
        f"(C = H({unequal_h}) = {unequal_c:.3f} nats per word); crossed: the aligned layout with x0 y0 / x1 y1 / "
        f"x1 y2 at {crossed}, whose per-position argmax x1 y0 is no translation (C = {crossed_c:.3f} nats per "
        "word). Exact H and C of each: docs/synthetic.md "
        "(default: %(default)s)")
    parser.add_argument("--p-ambiguous", type=unit_interval, default=None,
                        help=f"P(word is ambiguous) (default: {defaults.p_ambiguous}); ignored by two_mode")


def main(args: argparse.Namespace) -> int:
    """Run the ``synth`` subcommand.

    Args:
        args: Parsed options from :func:`add_args`.

    Returns:
        0 on success, 2 on invalid options.
    """
    p_amb = SynthConfig.p_ambiguous if args.p_ambiguous is None else args.p_ambiguous
    cfg = SynthConfig(seed=args.seed, num_train=args.num_train, num_valid=args.num_valid,
                      num_test=args.num_test, preset=args.preset, p_ambiguous=p_amb)
    try:
        cfg.validate()
    except ValueError as err:
        return fail("synth", err)
    if (message := unwritable_out_dir(args.out)) is not None:
        return fail("synth", message)
    if cfg.preset == "two_mode" and args.p_ambiguous is not None:
        logger.warning("--p-ambiguous is ignored by the two_mode preset")
    stats = write_corpus(cfg, args.out)
    test = stats["splits"]["test"]
    print(
        f"Wrote synthetic corpus (preset={cfg.preset}, seed={cfg.seed}) to {args.out}: "
        f"{{train,valid,test}}.{{src,tgt}} with {cfg.num_train}/{cfg.num_valid}/{cfg.num_test} "
        f"sentence pairs, plus stats.json. Generating distribution (nats per sentence): "
        f"H_joint={stats['H_joint']:.6f}, H_marginals_sum={stats['H_marginals_sum']:.6f}, "
        f"C={stats['C']:.6f}. Test split: C={test['C']:.6f} per sentence, "
        f"C_per_token={test['C_per_token']:.6f} over {test['num_target_tokens']} target tokens."
    )
    return 0

