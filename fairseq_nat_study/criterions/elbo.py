"""``nat_study_elbo``: the evidence lower bound of the latent NAT (Lee et al. 2020; Shu et al. 2020).

    ELBO = log p(T|x) + E_q[log p(y|z,x)] − Σ_t KL_t(q(z_t|x,y) ‖ p(z|x))

estimated with one reparameterised sample of z (KL_t in closed form for the Gaussian prior, the per-position
Monte Carlo estimate for the flow). The training loss is

    −log p(T|x) + Σ_t smoothed NLL(y_t|z,x) + β · Σ_t max(KL_t, b),

The default objective depends on the prior (``OBJECTIVE_DEFAULTS``), each flag the user leaves unset taking
the prior's value:

- **Gaussian prior**: LaNMT's KL budget, b = 1 nat **per target position** (``--kl-budget``), held for the first
  half of the run and then annealed linearly to 0, so that the run ends on the true ELBO
  (``--kl-budget-hold-updates`` and ``--kl-budget-anneal-updates`` default to the halves of ``--max-update``, or
  of ``--run-updates`` for a run trained in segments or stopped on validation). While a position's KL is under its budget, the hinge
  gives q no gradient there, but the prior still receives the gradient of KL_t with q held fixed: the budget
  never stops the prior from fitting the posterior.
- **Flow prior**: no budget; KL-weight annealing, β from 0.1 (``--kl-weight-start``) to 1 over the first third
  of the run (``--kl-anneal-updates``). Measured on the synthetic corpus, the budget leaves the flow model's
  latent unused (KL 0.027 nats per position, 0 active dims) where the annealing gives KL 0.126 and 5 active dims
  (``docs/BENCHMARKS.md``).

The prior is known once the model is built: ``nat_study_translation.build_criterion`` calls
``adopt_model``; a criterion built without it resolves on its first batch.

Logged: ``loss``, the true −ELBO (β = 1, no budget, no smoothing) in bits per target position, whatever the
update count: the number ``fairseq-validate`` reports and plain ``fairseq-train`` keeps ``checkpoint_best.pt`` by;
``objective``, the budgeted, weighted, smoothed objective that training minimises, in the same unit; every term;
``elbo_per_token`` (the true ELBO in nats per position, the metric the study selects and stops runs on); ``kl`` in
nats per target position; ``active_dims``, the latent dims whose posterior mean varies across the data (Cov > 0.01, Burda et al.
2016), with the mean read in the prior's standard coordinates (``utils.latent_usage``), over every position of the
validation split (in training: of the batches of a log interval, and with the flow prior, whose standard
coordinates cost a flow pass, of every ``ACTIVE_DIMS_EVERY``-th batch); β and b. The update
count reaches the criterion through ``set_num_updates``, which ``nat_study_translation`` calls before every
training step. A non-finite term stops training with an error that names it.

Flags that cannot mean anything are refused when the criterion is built, each with one line
(``PluginError``): a negative or non-finite value of any of them; ``--label-smoothing`` outside [0, 1); a β
annealed from something other than 1 over 0 updates, or annealed over N > 0 updates from 1 (nothing to anneal);
a β or budget schedule longer than the run; a budget b > 0 with ``--kl-budget-hold-updates 0
--kl-budget-anneal-updates 0`` (it would apply at no update); hold/anneal lengths with no budget (b = 0, given or
the flow prior's default); schedules that follow the run when the run has no length (``--max-update 0``).
"""
# No `from __future__ import annotations`: fairseq reads dataclass field types at runtime.
import math
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from omegaconf import II

from fairseq_nat_study.criterions.mle import check_label_smoothing, require_nat_output
from fairseq_nat_study.utils.errors import PluginError
from fairseq_nat_study.utils.flag_checks import require_float, require_int
from fairseq_nat_study.utils.latent_usage import active_dims, posterior_mean_moments
from fairseq_nat_study.utils.losses import length_nll, token_nll
from fairseq_nat_study.utils.schedules import hold_then_anneal, linear_anneal


#: in training with a flow prior, the active-dims statistics read one batch in this many (validation: every batch)
ACTIVE_DIMS_EVERY = 10


@dataclass
class ElboCriterionConfig(FairseqDataclass):
    kl_weight_start: Optional[float] = field(
        default=None, metadata={"help": "KL weight β at update 0, annealed to 1 over --kl-anneal-updates (default: "
                                        "1 for the Gaussian prior, 0.1 for the flow)"})
    kl_anneal_updates: Optional[int] = field(
        default=None, metadata={"help": "updates to anneal β to 1, 0: β = 1 throughout (default: 0 for the "
                                        "Gaussian prior, a third of the run for the flow)"})
    kl_budget: Optional[float] = field(
        default=None, metadata={"help": "KL budget b in nats per target position: the loss uses Σ_t max(KL_t, b) "
                                        "(LaNMT); 0 turns it off (default: 1 for the Gaussian prior, 0 for the flow)"})
    kl_budget_hold_updates: Optional[int] = field(
        default=None, metadata={"help": "updates the budget is held at b (default: half of --max-update)"}
    )
    kl_budget_anneal_updates: Optional[int] = field(
        default=None, metadata={"help": "updates over which the budget then falls linearly to 0 (default: the "
                                        "rest of --max-update)"}
    )
    label_smoothing: float = field(default=0.0, metadata={"help": "label smoothing of the reconstruction NLL, in "
                                                                  "[0, 1) (default: 0)"})
    run_updates: int = field(
        default=0, metadata={"help": "updates the schedules run over (default: 0, --max-update); a run trained in "
                                     "segments passes its whole length; a shorter value ends the schedules "
                                     "early and the run goes on with the ELBO itself (the study's early stopping)"}
    )
    max_update: int = II("optimization.max_update")
    # fairseq's shared option (see NatMleCriterionConfig): accepted so that a config composed over fairseq's
    # default criterion merges; the ELBO is always normalised by target tokens
    sentence_avg: bool = II("optimization.sentence_avg")


#: The default objective of each prior, as a function of the run's length in updates (0: unknown).
OBJECTIVE_DEFAULTS = {
    "gaussian": lambda total: {"kl_weight_start": 1.0, "kl_anneal_updates": 0, "kl_budget": 1.0},
    "flow": lambda total: {"kl_weight_start": 0.1, "kl_anneal_updates": total // 3, "kl_budget": 0.0},
}


def prior_name(model: Any) -> str:
    """``gaussian`` or ``flow``: the ``--prior`` of a latent model (unwrapped from DDP)."""
    inner = getattr(model, "module", model)
    name = getattr(getattr(inner, "args", None), "prior", None)
    if name is None:
        raise PluginError(f"--criterion nat_study_elbo needs a latent model (--arch nat_study_ga_*/nat_study_fl_*), "
                          f"got {type(inner).__name__}; use nat_study_mle or nat_study_glat for other NAT models")
    return name


def check_finite(criterion: str, **terms: torch.Tensor) -> None:
    """Raises ``FloatingPointError`` naming the first term that holds NaN or ±inf."""
    for name, value in terms.items():
        if not torch.isfinite(value).all():
            raise FloatingPointError(
                f"{criterion}: the {name} term is not finite ({value.detach().flatten()[:4].tolist()} ...); "
                "training stopped rather than skipping the batch"
            )


def budget_schedule(kl_budget: float, hold: int | None, anneal: int | None, max_update: int) -> tuple[int, int]:
    """(hold, anneal) update counts of the KL budget for a run of ``max_update`` updates (0: unbounded); raises
    ``PluginError`` naming the flags when they cannot work."""
    require_float("nat_study_elbo", "--kl-budget", kl_budget, "the KL budget in nats per target position; 0 turns "
                  "it off", low=0.0)
    for flag, value in (("--kl-budget-hold-updates", hold), ("--kl-budget-anneal-updates", anneal)):
        if value is not None:
            require_int("nat_study_elbo", flag, value, 0, "updates of the KL budget's schedule")
    if kl_budget == 0:
        if hold is not None or anneal is not None:
            raise PluginError("nat_study_elbo: --kl-budget-hold-updates/--kl-budget-anneal-updates schedule a KL "
                              "budget, but the budget is 0 (--kl-budget 0, or the flow prior's default): give "
                              "--kl-budget B > 0, or drop the schedule flags")
        return 0, 0
    if hold == 0 and anneal == 0:
        raise PluginError(f"nat_study_elbo: --kl-budget {kl_budget:g} with --kl-budget-hold-updates 0 and "
                          "--kl-budget-anneal-updates 0 applies the budget at no update; give a hold or an anneal "
                          "length > 0, or --kl-budget 0 for no budget")
    if (hold is None or anneal is None) and max_update <= 0:
        raise PluginError("nat_study_elbo: the KL budget's schedule follows the run, but the run has no --max-update; "
                          "give --max-update, or --kl-budget-hold-updates and --kl-budget-anneal-updates, "
                          "or --kl-budget 0")
    hold = max_update // 2 if hold is None else hold
    anneal = max_update - hold if anneal is None else anneal
    if hold < 0 or anneal < 0:
        raise PluginError(f"nat_study_elbo: --kl-budget-hold-updates ({hold}) and --kl-budget-anneal-updates "
                          f"({anneal}) must be >= 0")
    if max_update > 0 and hold + anneal > max_update:
        raise PluginError(f"nat_study_elbo: the KL budget schedule (hold {hold} + anneal {anneal} updates) is longer "
                         f"than the run ({max_update} updates, --max-update or --run-updates): training would end "
                         "with a budget above 0, not on the ELBO")
    return hold, anneal


@register_criterion("nat_study_elbo", dataclass=ElboCriterionConfig)
class ElboCriterion(FairseqCriterion):
    """Negative ELBO with LaNMT's per-position KL budget, optional KL annealing; per-term logging."""

    def __init__(self, task: Any, kl_weight_start: float | None = None, kl_anneal_updates: int | None = None,
                 kl_budget: float | None = None, kl_budget_hold_updates: int | None = None,
                 kl_budget_anneal_updates: int | None = None, label_smoothing: float = 0.0, run_updates: int = 0,
                 max_update: int = 0) -> None:
        super().__init__(task)
        require_int("nat_study_elbo", "--run-updates", run_updates, 0, "updates the schedules run over; 0: "
                    "--max-update")
        check_label_smoothing("nat_study_elbo", label_smoothing)
        self.flags = {"kl_weight_start": kl_weight_start, "kl_anneal_updates": kl_anneal_updates,
                      "kl_budget": kl_budget, "kl_budget_hold_updates": kl_budget_hold_updates,
                      "kl_budget_anneal_updates": kl_budget_anneal_updates}
        self.total_updates = run_updates or max_update or 0
        self.label_smoothing = label_smoothing
        self.num_updates = 0
        self.prior: str | None = None

    def adopt_prior(self, prior: str) -> "ElboCriterion":
        """Fixes the objective for a model with prior ``prior`` (``gaussian`` or ``flow``): every KL flag left unset
        takes the prior's default (``OBJECTIVE_DEFAULTS``); raises ``PluginError`` naming the flags when the result
        cannot work. Returns the criterion."""
        if prior not in OBJECTIVE_DEFAULTS:
            raise PluginError(f"nat_study_elbo: no default objective for prior {prior!r}; "
                              f"choose one of {sorted(OBJECTIVE_DEFAULTS)}")
        total = self.total_updates
        given = {k: v for k, v in self.flags.items() if v is not None}
        if "kl_weight_start" in given:
            require_float("nat_study_elbo", "--kl-weight-start", given["kl_weight_start"], "the KL weight β at "
                          "update 0, annealed to 1", low=0.0)
        if "kl_anneal_updates" in given:
            require_int("nat_study_elbo", "--kl-anneal-updates", given["kl_anneal_updates"], 0,
                        "updates over which β reaches 1")
        start_given = float(given.get("kl_weight_start", OBJECTIVE_DEFAULTS[prior](1000)["kl_weight_start"]))
        if (total <= 0 and start_given != 1.0 and OBJECTIVE_DEFAULTS[prior](1000)["kl_anneal_updates"] > 0
                and "kl_anneal_updates" not in given):
            raise PluginError(f"nat_study_elbo: the {prior} prior's KL-weight annealing follows the run, but the run "
                              "has no --max-update; give --max-update, or --kl-anneal-updates N (or --kl-weight-start "
                              "1)")
        values = {**OBJECTIVE_DEFAULTS[prior](max(total, 0)), **given}
        start, anneal = float(values["kl_weight_start"]), int(values["kl_anneal_updates"])
        if start != 1.0 and anneal <= 0:
            raise PluginError(f"nat_study_elbo: --kl-weight-start {start:g} needs --kl-anneal-updates N > 0 (the "
                              "updates over which β reaches 1); without it β would be 1 from the first update")
        if start == 1.0:
            if given.get("kl_anneal_updates", 0) > 0:
                whose = "" if "kl_weight_start" in given else f" (the {prior} prior default)"
                raise PluginError(f"nat_study_elbo: --kl-anneal-updates {given['kl_anneal_updates']} anneals β from "
                                  f"--kl-weight-start 1{whose} to 1, which changes nothing; give --kl-weight-start "
                                  "below 1 (e.g. 0.1), or drop --kl-anneal-updates")
            anneal = 0  # β = 1 throughout
        if total > 0 and anneal > total:
            raise PluginError(f"nat_study_elbo: --kl-anneal-updates {anneal} is longer than the run ({total} updates, "
                              "--max-update or --run-updates): training would end with β < 1, not on the ELBO")
        self.kl_weight_start, self.kl_anneal_updates = start, anneal
        self.kl_budget = float(values["kl_budget"])
        self.budget_hold, self.budget_anneal = budget_schedule(
            self.kl_budget, values.get("kl_budget_hold_updates"), values.get("kl_budget_anneal_updates"), total)
        self.prior = prior
        return self

    def adopt_model(self, model: Any) -> "ElboCriterion":
        """``adopt_prior`` with the ``--prior`` of ``model``."""
        return self.adopt_prior(prior_name(model))

    def objective(self) -> str:
        """The objective in words, for logs: β schedule and budget."""
        return (f"prior {self.prior}: KL weight {self.kl_weight_start:g} -> 1 over {self.kl_anneal_updates} updates, "
                f"KL budget {self.kl_budget:g} nats/position (hold {self.budget_hold}, anneal {self.budget_anneal})")

    def set_num_updates(self, num_updates: int) -> None:
        """The explicit hook through which the task passes the update count."""
        self.num_updates = num_updates

    def kl_weight(self) -> float:
        return linear_anneal(self.num_updates, self.kl_weight_start, 1.0, self.kl_anneal_updates)

    def budget(self) -> float:
        """b at the current update: ``--kl-budget`` while held, then linearly to 0 (evaluation: the current b)."""
        return hold_then_anneal(self.num_updates, self.kl_budget, self.budget_hold, self.budget_anneal)

    def forward(self, model: Any, sample: dict[str, Any], reduce: bool = True) -> tuple[torch.Tensor, int, dict[str, Any]]:
        if self.prior is None:
            self.adopt_model(model)
        net_input = sample["net_input"]
        beta, budget = self.kl_weight(), self.budget()
        out = require_nat_output(
            model(net_input["src_tokens"], net_input["src_lengths"], sample["prev_target"], sample["target"],
                  prior_fit=budget > 0 and model.training, standard_mean=self._reads_active_dims(model)),
            "nat_study_elbo",
        )
        if "kl" not in out:
            raise PluginError("--criterion nat_study_elbo needs a latent model (--arch nat_study_ga_*/nat_study_fl_*); "
                              "use nat_study_mle or nat_study_glat for other NAT models")
        words, kl_out = out["word_ins"], out["kl"]
        rec_loss, rec_nll = token_nll(words["out"], words["tgt"], words["mask"], self.label_smoothing)
        len_nll = length_nll(out["length"]["out"], out["length"]["tgt"])
        kl_pos, valid = kl_out["kl_positions"], kl_out["valid"]
        kl = kl_pos.sum(-1)
        check_finite("nat_study_elbo", reconstruction=rec_nll, kl=kl, length=len_nll)
        kl_used = budgeted_kl(kl_pos, valid, budget, kl_out.get("kl_prior_fit"))
        # the objective minimised: smoothed reconstruction + β · budgeted KL + length; logged as "objective"
        loss = rec_loss.sum() + beta * kl_used.sum() + len_nll.sum()
        # −ELBO = −log p(T|x) − E_q log p(y|z,x) + KL(q‖p): logged as "loss", independent of β, b and ε
        neg_elbo = rec_nll.sum() + kl.sum() + len_nll.sum()
        nsentences = sample["target"].size(0)
        sample_size = int(words["mask"].sum()) + nsentences  # |y| + 1 per sentence = the latent positions
        logging_output = {
            "loss": neg_elbo.data, "objective": loss.data, "reconstruction": rec_nll.sum().data, "kl": kl.sum().data,
            "kl_used": kl_used.sum().data, "length_nll": len_nll.sum().data,
            "kl_weight": beta * nsentences, "kl_budget": budget * nsentences,
            "ntokens": sample_size, "nsentences": nsentences, "sample_size": sample_size,
            **(posterior_mean_moments(kl_out["standard_mean"], valid) if kl_out["standard_mean"] is not None else {}),
        }
        return loss, sample_size, logging_output

    def _reads_active_dims(self, model: Any) -> bool:
        """Whether this batch feeds the active-dims statistics: always in evaluation and for a prior whose
        standard coordinates are closed-form; in training with the flow prior (a flow pass per batch: a tiny flow
        model's step measured 290 ms with it, 250 ms without) every ``ACTIVE_DIMS_EVERY``-th batch."""
        if not model.training or self.prior != "flow":
            return True
        self._train_batches = getattr(self, "_train_batches", 0) + 1
        return (self._train_batches - 1) % ACTIVE_DIMS_EVERY == 0

    @staticmethod
    def reduce_metrics(logging_outputs: list[dict[str, Any]]) -> None:
        """loss (the true −ELBO) and objective (what training minimises) in bits per token (fairseq's convention);
        the terms in nats per target position; β and b averaged; active latent dims from the posterior-mean moments
        summed over the aggregation (hidden ``_zm*`` sums)."""
        total = lambda key: sum(float(log.get(key, 0)) for log in logging_outputs)  # noqa: E731
        size, nsent = total("sample_size"), total("nsentences")
        if size == 0:
            return
        rec, kl, length = total("reconstruction"), total("kl"), total("length_nll")
        metrics.log_scalar("loss", total("loss") / size / math.log(2), size, round=3)
        metrics.log_scalar("objective", total("objective") / size / math.log(2), size, round=3)
        metrics.log_scalar("reconstruction", rec / size, size, round=3)
        metrics.log_scalar("kl", kl / size, size, round=4)
        metrics.log_scalar("kl_used", total("kl_used") / size, size, round=3)
        metrics.log_scalar("length_nll", length / max(nsent, 1), nsent, round=3)
        metrics.log_scalar("elbo_per_token", -(rec + kl + length) / size, size, round=4)
        metrics.log_scalar("kl_weight", total("kl_weight") / max(nsent, 1), nsent, round=3)
        metrics.log_scalar("kl_budget", total("kl_budget") / max(nsent, 1), nsent, round=3)
        keys = sorted({k for log in logging_outputs for k in log if k.startswith("_zm")})
        for key in keys:
            metrics.log_scalar_sum(key, total(key))
        if keys:
            metrics.log_derived("active_dims", active_dims_from_meters)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True


def budgeted_kl(kl_pos: torch.Tensor, valid: torch.Tensor, budget: float,
                kl_prior_fit: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_t max(KL_t, b) per sentence [B], with the prior's gradient kept where the budget holds.

    Args:
        kl_pos: [B, T] KL per position (gradient to q and p); valid: [B, T] bool; budget: b (nats per position).
        kl_prior_fit: [B, T] the same KL with q detached, or None. Where KL_t ≤ b its gradient (to the prior
            only) is added, its value is not: the loss value stays Σ_t max(KL_t, b).

    Returns:
        [B] budgeted KL.
    """
    if budget <= 0:
        return kl_pos.sum(-1)
    over = kl_pos.detach() > budget
    used = torch.where(over, kl_pos, torch.full_like(kl_pos, budget)) * valid
    if kl_prior_fit is not None:
        held = valid & ~over
        used = used + (kl_prior_fit - kl_prior_fit.detach()) * held
    return used.sum(-1)


def active_dims_from_meters(meters: Any) -> int:
    """``active_dims`` over fairseq's summed ``_zm*`` meters."""
    return active_dims({k: float(meters[k].sum) for k in meters if k.startswith("_zm")})
