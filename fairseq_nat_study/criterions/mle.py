"""``nat_study_mle``: maximum likelihood for non-autoregressive models (Gu et al. 2018).

loss = Σ_t [(1 − ε)·(−log p(y_t|x,T)) + ε·smoothing] + λ · (−log p(T|x)), summed over the batch and
normalised by ``sample_size`` = Σ (|y| + 1), the same token count as fairseq's autoregressive criterions
(target tokens including EOS). With ε = 0 and λ = 1 (the ``nat_study_nat`` default) the loss is exactly
−log p(y|x) per token, the number the ``loglik`` tool reports.
"""

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from omegaconf import II

from fairseq_nat_study.utils.errors import PluginError
from fairseq_nat_study.utils.flag_checks import require_float
from fairseq_nat_study.utils.losses import length_nll, token_nll


@dataclass
class NatMleCriterionConfig(FairseqDataclass):
    label_smoothing: float = field(default=0.0, metadata={"help": "epsilon for label smoothing of token NLL, in "
                                                                  "[0, 1) (default: 0)"})
    # fairseq's shared option, declared by its own criterions: a hydra config that changes only the criterion's
    # _name (e.g. criterion._name=nat_study_mle over fairseq's default cross_entropy) still carries it. These
    # criterions always normalise by target tokens (sample_size = Σ (|y| + 1)), whatever its value.
    sentence_avg: bool = II("optimization.sentence_avg")


def check_label_smoothing(criterion: str, label_smoothing: float) -> None:
    """Refuses (``PluginError``) an ε outside [0, 1): ε = 1 would train on the uniform distribution alone."""
    require_float(criterion, "--label-smoothing", label_smoothing, "the label smoothing ε of the token NLL",
                  low=0.0, high=1.0, high_open=True)


def require_nat_output(net_output: Any, criterion: str) -> dict[str, dict[str, Any]]:
    """Checks that a model returned the named-term dict of a non-autoregressive model; raises ``PluginError``
    naming ``--criterion`` and the archs it trains otherwise."""
    if not isinstance(net_output, dict) or "word_ins" not in net_output:
        raise PluginError(
            f"--criterion {criterion} needs a non-autoregressive model (--arch nat_study_nat_* or "
            f"nat_study_glat_*/nat_study_ga_*/nat_study_fl_*); the model returned {type(net_output).__name__}"
        )
    return net_output


@register_criterion("nat_study_mle", dataclass=NatMleCriterionConfig)
class NatMleCriterion(FairseqCriterion):
    """Token NLL (optionally label-smoothed) plus the weighted length NLL, each term logged."""

    def __init__(self, task: Any, label_smoothing: float = 0.0) -> None:
        super().__init__(task)
        check_label_smoothing(type(self).criterion_name(), label_smoothing)
        self.label_smoothing = label_smoothing

    @classmethod
    def criterion_name(cls) -> str:
        """The registered name, for messages."""
        return "nat_study_mle"

    def forward(self, model: Any, sample: dict[str, Any], reduce: bool = True) -> tuple[torch.Tensor, int, dict[str, Any]]:
        net_input = sample["net_input"]
        out = require_nat_output(
            model(net_input["src_tokens"], net_input["src_lengths"], sample["prev_target"], sample["target"]),
            "nat_study_mle",
        )
        words, length = out["word_ins"], out["length"]
        tok_loss, tok_nll = token_nll(words["out"], words["tgt"], words["mask"], self.label_smoothing)
        len_nll = length_nll(length["out"], length["tgt"])
        loss = tok_loss.sum() + length["factor"] * len_nll.sum()
        nsentences = sample["target"].size(0)
        sample_size = int(words["mask"].sum()) + nsentences  # |y| + 1 per sentence, as for AR models
        logging_output = {
            "loss": loss.data,
            "token_nll": tok_nll.sum().data,
            "length_nll": len_nll.sum().data,
            "ntokens": sample_size,
            "nsentences": nsentences,
            "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs: list[dict[str, Any]]) -> None:
        """Logs loss and nll_loss in bits per token (fairseq's convention, so ppl is derived) and, in nats,
        the token NLL per token, the length NLL per sentence and the exact log-likelihood per token."""
        total = lambda key: sum(float(log.get(key, 0)) for log in logging_outputs)  # noqa: E731
        sample_size, nsent = total("sample_size"), total("nsentences")
        if sample_size == 0:
            return
        token, length = total("token_nll"), total("length_nll")
        metrics.log_scalar("loss", total("loss") / sample_size / math.log(2), sample_size, round=3)
        metrics.log_scalar("nll_loss", (token + length) / sample_size / math.log(2), sample_size, round=3)
        metrics.log_derived("ppl", lambda meters: 2 ** meters["nll_loss"].avg)
        metrics.log_scalar("token_nll", token / max(sample_size - nsent, 1), sample_size, round=3)
        metrics.log_scalar("length_nll", length / max(nsent, 1), nsent, round=3)
        metrics.log_scalar("ll_per_token", -(token + length) / sample_size, sample_size, round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
