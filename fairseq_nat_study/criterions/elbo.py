"""``nat_study_elbo``: the evidence lower bound of the latent NAT (Lee et al. 2020; Shu et al. 2020).

    ELBO = log p(T|x) + E_q[log p(y|z,x)] − KL(q(z|x,y) ‖ p(z|x))

estimated with one reparameterised sample of z. The training loss is

    −log p(T|x) + Σ_t smoothed NLL(y_t|z,x) + β · max(KL, b · T),

with a KL weight β annealed linearly from ``--kl-weight-start`` to 1 over ``--kl-anneal-updates`` updates
and a free-bits budget b (nats per target position) annealed linearly to 0 over
``--free-bits-anneal-updates`` updates (Kingma et al. 2016; LaNMT's budget). Each term, β, b and the true
ELBO per token (β = 1, no budget, no smoothing) are logged. The update count reaches the criterion through
``set_num_updates``, which ``nat_study_translation`` calls before every training step. A non-finite term
stops training with an error that names it.
"""
# No `from __future__ import annotations`: fairseq reads dataclass field types at runtime.
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass

from fairseq_nat_study.criterions.mle import require_nat_output
from fairseq_nat_study.utils.losses import length_nll, token_nll
from fairseq_nat_study.utils.schedules import linear_anneal


@dataclass
class ElboCriterionConfig(FairseqDataclass):
    kl_weight_start: float = field(default=1.0, metadata={"help": "KL weight β at update 0 (annealed to 1)"})
    kl_anneal_updates: int = field(default=0, metadata={"help": "updates to anneal β to 1 (0: β = 1 throughout)"})
    free_bits: float = field(default=0.0, metadata={"help": "free-bits budget b in nats per target position"})
    free_bits_anneal_updates: int = field(
        default=0, metadata={"help": "updates to anneal the budget to 0 (0: constant budget)"}
    )
    label_smoothing: float = field(default=0.0, metadata={"help": "label smoothing of the reconstruction NLL"})


def check_finite(criterion: str, **terms: torch.Tensor) -> None:
    """Raises ``FloatingPointError`` naming the first term that holds NaN or ±inf."""
    for name, value in terms.items():
        if not torch.isfinite(value).all():
            raise FloatingPointError(
                f"{criterion}: the {name} term is not finite ({value.detach().flatten()[:4].tolist()} ...); "
                "training stopped rather than skipping the batch"
            )


@register_criterion("nat_study_elbo", dataclass=ElboCriterionConfig)
class ElboCriterion(FairseqCriterion):
    """Negative ELBO with KL annealing and free bits; per-term logging."""

    def __init__(self, task: Any, kl_weight_start: float = 1.0, kl_anneal_updates: int = 0, free_bits: float = 0.0,
                 free_bits_anneal_updates: int = 0, label_smoothing: float = 0.0) -> None:
        super().__init__(task)
        if free_bits < 0 or kl_weight_start < 0:
            raise ValueError("--free-bits and --kl-weight-start must be >= 0")
        self.kl_weight_start = kl_weight_start
        self.kl_anneal_updates = kl_anneal_updates
        self.free_bits = free_bits
        self.free_bits_anneal_updates = free_bits_anneal_updates
        self.label_smoothing = label_smoothing
        self.num_updates = 0

    def set_num_updates(self, num_updates: int) -> None:
        """The explicit hook through which the task passes the update count."""
        self.num_updates = num_updates

    def kl_weight(self) -> float:
        return linear_anneal(self.num_updates, self.kl_weight_start, 1.0, self.kl_anneal_updates)

    def budget(self) -> float:
        if self.free_bits_anneal_updates <= 0:
            return self.free_bits
        return linear_anneal(self.num_updates, self.free_bits, 0.0, self.free_bits_anneal_updates)

    def forward(self, model: Any, sample: dict[str, Any], reduce: bool = True) -> tuple[torch.Tensor, int, dict[str, Any]]:
        net_input = sample["net_input"]
        out = require_nat_output(
            model(net_input["src_tokens"], net_input["src_lengths"], sample["prev_target"], sample["target"]),
            "nat_study_elbo",
        )
        if "kl" not in out:
            raise TypeError("--criterion nat_study_elbo needs a latent model (--arch nat_study_ga_*/nat_study_fl_*)")
        words = out["word_ins"]
        rec_loss, rec_nll = token_nll(words["out"], words["tgt"], words["mask"], self.label_smoothing)
        len_nll = length_nll(out["length"]["out"], out["length"]["tgt"])
        kl, positions = out["kl"]["kl"], out["kl"]["num_positions"]
        check_finite("nat_study_elbo", reconstruction=rec_nll, kl=kl, length=len_nll)
        beta, budget = self.kl_weight(), self.budget()
        kl_used = torch.maximum(kl, budget * positions.type_as(kl)) if budget > 0 else kl
        loss = rec_loss.sum() + beta * kl_used.sum() + len_nll.sum()
        nsentences = sample["target"].size(0)
        sample_size = int(words["mask"].sum()) + nsentences  # |y| + 1 per sentence
        logging_output = {
            "loss": loss.data, "reconstruction": rec_nll.sum().data, "kl": kl.sum().data,
            "kl_used": kl_used.sum().data, "length_nll": len_nll.sum().data,
            "kl_weight": beta * nsentences, "free_bits": budget * nsentences,
            "ntokens": sample_size, "nsentences": nsentences, "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs: list[dict[str, Any]]) -> None:
        """loss in bits per token (fairseq's convention); the terms in nats per token; β and b averaged."""
        total = lambda key: sum(float(log.get(key, 0)) for log in logging_outputs)  # noqa: E731
        size, nsent = total("sample_size"), total("nsentences")
        if size == 0:
            return
        rec, kl, length = total("reconstruction"), total("kl"), total("length_nll")
        metrics.log_scalar("loss", total("loss") / size / math.log(2), size, round=3)
        metrics.log_scalar("reconstruction", rec / size, size, round=3)
        metrics.log_scalar("kl", kl / size, size, round=3)
        metrics.log_scalar("kl_used", total("kl_used") / size, size, round=3)
        metrics.log_scalar("length_nll", length / max(nsent, 1), nsent, round=3)
        metrics.log_scalar("elbo_per_token", -(rec + kl + length) / size, size, round=4)
        metrics.log_scalar("kl_weight", total("kl_weight") / max(nsent, 1), nsent, round=3)
        metrics.log_scalar("free_bits", total("free_bits") / max(nsent, 1), nsent, round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
