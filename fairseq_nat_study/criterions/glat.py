"""``nat_study_glat``: glancing training (Qian et al. 2021).

Pass 1 (no gradient) predicts ŷ from the all-``<unk>`` decoder input; N = ⌊ratio · Hamming(ŷ, y)⌋ random
target positions are revealed (their target embeddings replace the decoder inputs); pass 2 computes the
token NLL on the unrevealed positions only, plus the length NLL. The ratio is annealed linearly from
``--glat-ratio-start`` to ``--glat-ratio-end`` over ``--glat-anneal-updates`` updates (default: the whole run,
``--max-update``, or ``--run-updates`` for a run trained in segments); the update count
reaches the criterion through ``set_num_updates`` (called by ``nat_study_translation``). Glancing happens in
training only: validation computes the plain MLE terms, so validation losses compare with ``nat_study_mle``.
With ratio 0 the loss is exactly ``nat_study_mle``'s.

Refused when the criterion is built (one line, ``PluginError``): a ratio outside [0, 1]; a negative anneal or run
length; ``--glat-anneal-updates 0`` with different start and end ratios (the start ratio would never apply);
an anneal longer than the run (the end ratio would never be reached).
"""
# No `from __future__ import annotations`: fairseq reads dataclass field types at runtime.
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from fairseq import metrics
from fairseq.criterions import register_criterion
from omegaconf import II

from fairseq_nat_study.criterions.mle import NatMleCriterion, NatMleCriterionConfig, require_nat_output
from fairseq_nat_study.modules.glancing import glancing_mask
from fairseq_nat_study.utils.errors import PluginError
from fairseq_nat_study.utils.flag_checks import require_float, require_int
from fairseq_nat_study.utils.losses import length_nll, token_nll
from fairseq_nat_study.utils.schedules import linear_anneal


@dataclass
class GlatCriterionConfig(NatMleCriterionConfig):
    glat_ratio_start: float = field(default=0.5, metadata={"help": "glancing ratio at update 0, in [0, 1] "
                                                                   "(default: 0.5)"})
    glat_ratio_end: float = field(default=0.3, metadata={"help": "glancing ratio after annealing, in [0, 1] "
                                                                 "(default: 0.3)"})
    glat_anneal_updates: Optional[int] = field(
        default=None, metadata={"help": "updates to anneal the ratio over (default: the whole run, --max-update or "
                                        "--run-updates)"})
    run_updates: int = field(
        default=0, metadata={"help": "updates the ratio schedule runs over (default: 0, --max-update); a run trained in "
                                     "segments passes its whole length; a shorter value ends the schedule early "
                                     "and the run goes on at the end ratio"})
    max_update: int = II("optimization.max_update")


def glat_ratio(update: int, start: float, end: float, updates: int) -> float:
    """The glancing ratio at an update (linear from ``start`` to ``end``)."""
    return linear_anneal(update, start, end, updates)


@register_criterion("nat_study_glat", dataclass=GlatCriterionConfig)
class GlatCriterion(NatMleCriterion):
    """Two-pass glancing loss; logs the ratio and the revealed fraction beside the MLE terms."""

    def __init__(self, task: Any, label_smoothing: float = 0.0, glat_ratio_start: float = 0.5,
                 glat_ratio_end: float = 0.3, glat_anneal_updates: int | None = None, run_updates: int = 0,
                 max_update: int = 0) -> None:
        super().__init__(task, label_smoothing)
        for flag, value in (("--glat-ratio-start", glat_ratio_start), ("--glat-ratio-end", glat_ratio_end)):
            require_float("nat_study_glat", flag, value, "the share of the wrongly predicted target tokens revealed",
                          low=0.0, high=1.0)
        require_int("nat_study_glat", "--run-updates", run_updates, 0, "updates the ratio schedule runs over; 0: "
                    "--max-update")
        total = run_updates or max_update or 0
        if glat_anneal_updates is None:
            if total <= 0:
                raise PluginError("nat_study_glat: the glancing ratio's schedule follows the run, but the run has no "
                                  "--max-update; give --max-update or --glat-anneal-updates N")
            glat_anneal_updates = total
        require_int("nat_study_glat", "--glat-anneal-updates", glat_anneal_updates, 0,
                    "updates over which the ratio goes from --glat-ratio-start to --glat-ratio-end")
        if glat_anneal_updates == 0 and glat_ratio_start != glat_ratio_end:
            raise PluginError(f"nat_study_glat: --glat-anneal-updates 0 uses --glat-ratio-end {glat_ratio_end:g} from "
                              f"the first update, so --glat-ratio-start {glat_ratio_start:g} would never apply; give "
                              "--glat-anneal-updates N > 0, or the same start and end ratio for a constant one")
        if total > 0 and glat_anneal_updates > total:
            raise PluginError(f"nat_study_glat: --glat-anneal-updates {glat_anneal_updates} is longer than the run "
                              f"({total} updates, --max-update or --run-updates): the ratio would never reach "
                              f"--glat-ratio-end {glat_ratio_end:g}; shorten the anneal or lengthen the run")
        self.ratio_start, self.ratio_end, self.anneal_updates = glat_ratio_start, glat_ratio_end, glat_anneal_updates
        self.num_updates = 0

    @classmethod
    def criterion_name(cls) -> str:
        return "nat_study_glat"

    def set_num_updates(self, num_updates: int) -> None:
        """The explicit hook through which the task passes the update count."""
        self.num_updates = num_updates

    def ratio(self) -> float:
        return glat_ratio(self.num_updates, self.ratio_start, self.ratio_end, self.anneal_updates)

    def forward(self, model: Any, sample: dict[str, Any], reduce: bool = True) -> tuple[torch.Tensor, int, dict[str, Any]]:
        net_input, target, prev = sample["net_input"], sample["target"], sample["prev_target"]
        src, src_len = net_input["src_tokens"], net_input["src_lengths"]
        ratio = self.ratio() if model.training else 0.0
        words = target.ne(self.padding_idx) & target.ne(self.task.target_dictionary.eos())
        revealed = torch.zeros_like(words)
        if ratio > 0:
            with torch.no_grad():
                first = require_nat_output(model(src, src_len, prev, target), "nat_study_glat")
                predicted = first["word_ins"]["out"].argmax(-1)
            revealed = glancing_mask(predicted, target, words, ratio)
            prev = torch.where(revealed, target, prev)
        out = require_nat_output(model(src, src_len, prev, target), "nat_study_glat")
        mask = out["word_ins"]["mask"] & ~revealed
        tok_loss, tok_nll = token_nll(out["word_ins"]["out"], target, mask, self.label_smoothing)
        len_nll = length_nll(out["length"]["out"], out["length"]["tgt"])
        loss = tok_loss.sum() + out["length"]["factor"] * len_nll.sum()
        nsentences = target.size(0)
        sample_size = int(mask.sum()) + nsentences
        return loss, sample_size, {
            "loss": loss.data, "token_nll": tok_nll.sum().data, "length_nll": len_nll.sum().data,
            "ntokens": sample_size, "nsentences": nsentences, "sample_size": sample_size,
            "glat_ratio": ratio * nsentences, "revealed": int(revealed.sum()), "words": int(words.sum()),
        }

    @staticmethod
    def reduce_metrics(logging_outputs: list[dict[str, Any]]) -> None:
        NatMleCriterion.reduce_metrics(logging_outputs)
        total = lambda key: sum(float(log.get(key, 0)) for log in logging_outputs)  # noqa: E731
        nsent, words = total("nsentences"), total("words")
        if nsent > 0:
            metrics.log_scalar("glat_ratio", total("glat_ratio") / nsent, nsent, round=3)
        if words > 0:
            metrics.log_scalar("revealed_frac", total("revealed") / words, words, round=3)
