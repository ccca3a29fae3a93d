"""``nat_study_translation``: one translation task for autoregressive and non-autoregressive models.

Extends fairseq's ``translation_lev`` (Gu et al. 2019) and changes what a study needs:

- **One data layout.** Datasets are loaded as fairseq's ``translation`` task loads them (no BOS on either
  side), so AR and NAT models train, decode and are scored on the same binarised data; the NAT models of
  this plugin use the ``y </s>`` target layout. The decoder input of a NAT model is the reference with
  every token replaced by ``<unk>`` (``--noise full_mask``, the default here).
- **Every sentence.** fairseq's ``batch_by_size`` drops the last batch of a split when its size is not a
  multiple of ``--required-batch-size-multiple`` (default 8), with no warning. This task always batches
  with multiple 1, so training, validation and ``fairseq-generate`` see every sentence.
- **The right generator for the model.** ``build_generator`` gives the delta-posterior generator to latent
  models, fairseq's iterative-refinement generator to other NAT models and fairseq's beam search to AR
  models; ``--eval-bleu`` works for all.
- **The update count for schedules.** ``train_step`` calls ``criterion.set_num_updates(update_num)`` when the
  criterion has it (KL annealing, free bits, GLAT's ratio); fairseq's trainer never tells criterions.
- **Rank agreement.** ``--param-digest-interval N`` prints, on every data-parallel rank, a SHA-256 digest of
  the model state every N updates (``utils.digest``): ranks that do not print the same digest have drifted.
- **Clear pairing errors.** An AR model with a NAT criterion, or a NAT model with an AR criterion, stops
  with an error naming ``--arch`` and ``--criterion``.
"""

import logging
from argparse import Namespace
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from fairseq.models.nat import FairseqNATModel
from fairseq.tasks import register_task
from fairseq.tasks.translation import TranslationTask
from fairseq.tasks.translation_lev import NOISE_CHOICES, TranslationLevenshteinConfig, TranslationLevenshteinTask

logger = logging.getLogger(__name__)

#: Criterions that train non-autoregressive models (ours, and fairseq's own NAT loss).
NAT_CRITERIONS = ("NatMleCriterion", "GlatCriterion", "ElboCriterion", "LabelSmoothedDualImitationCriterion")


def unwrap_model(model: Any) -> Any:
    """The model inside fairseq's distributed / proxy wrappers."""
    while hasattr(model, "module"):
        model = model.module
    return model


def is_nat_model(model: Any) -> bool:
    """True for every fairseq non-autoregressive model (ours included)."""
    return isinstance(unwrap_model(model), FairseqNATModel)


def check_model_criterion_pairing(model: Any, criterion: Any) -> None:
    """Raises ``ValueError`` naming ``--arch`` and ``--criterion`` when they cannot train together."""
    nat_model = is_nat_model(model)
    nat_criterion = type(criterion).__name__ in NAT_CRITERIONS
    if nat_model != nat_criterion:
        kind = "a non-autoregressive" if nat_model else "an autoregressive"
        wanted = "nat_study_mle, nat_study_glat or nat_study_elbo" if nat_model else "e.g. label_smoothed_cross_entropy"
        raise ValueError(
            f"--arch gives {kind} model ({type(unwrap_model(model)).__name__}) but --criterion is "
            f"{type(criterion).__name__}; use {wanted}"
        )


@dataclass
class NatStudyTranslationConfig(TranslationLevenshteinConfig):
    noise: NOISE_CHOICES = field(
        default="full_mask",
        metadata={"help": "decoder-input noise for NAT models (full_mask: every target token -> <unk>)"},
    )
    latent_search_samples: int = field(
        default=1, metadata={"help": "latent models: latent starts per length candidate (1: the prior mode only; "
                                     "S > 1: the mode and S-1 prior samples)"}
    )
    latent_search_temperature: float = field(
        default=1.0, metadata={"help": "latent models: temperature of the prior samples of latent search"}
    )
    param_digest_interval: int = field(
        default=0, metadata={"help": "every N updates, print on every rank a SHA-256 digest of the model state "
                                     "(data-parallel ranks must print the same digests); 0: never"}
    )


@register_task("nat_study_translation", dataclass=NatStudyTranslationConfig)
class NatStudyTranslationTask(TranslationLevenshteinTask):
    """Translation for AR and NAT models on one data layout, with no sentence dropped."""

    cfg: NatStudyTranslationConfig

    def __init__(self, cfg: NatStudyTranslationConfig, src_dict: Any, tgt_dict: Any) -> None:
        super().__init__(cfg, src_dict, tgt_dict)
        self._checked_pairing = False

    def load_dataset(self, split: str, epoch: int = 1, combine: bool = False, **kwargs: Any) -> None:
        """fairseq's ``translation`` layout (``translation_lev`` would prepend BOS to both sides)."""
        TranslationTask.load_dataset(self, split, epoch=epoch, combine=combine, **kwargs)

    def build_dataset_for_inference(self, src_tokens: list[torch.Tensor], src_lengths: list[int], constraints: Any = None) -> Any:
        return TranslationTask.build_dataset_for_inference(self, src_tokens, src_lengths, constraints=constraints)

    def get_batch_iterator(self, dataset: Any, **kwargs: Any) -> Any:
        """fairseq's iterator with ``required_batch_size_multiple=1``, so no last batch is dropped."""
        asked = kwargs.get("required_batch_size_multiple", 1)
        if asked != 1:
            logger.info(
                "nat_study_translation batches with required_batch_size_multiple=1 (asked %s): fairseq drops "
                "the last batch of a split otherwise", asked,
            )
        kwargs["required_batch_size_multiple"] = 1
        return super().get_batch_iterator(dataset, **kwargs)

    def build_generator(self, models: Sequence[Any], args: Any, **kwargs: Any) -> Any:
        if getattr(unwrap_model(models[0]), "is_latent_model", False):
            from fairseq_nat_study.generation.latent_refinement import LatentRefinementGenerator

            return LatentRefinementGenerator(
                self.target_dictionary,
                max_iter=getattr(args, "iter_decode_max_iter", 1),
                beam_size=getattr(args, "iter_decode_with_beam", 1),
                adaptive=not getattr(args, "iter_decode_force_max_iter", False),
                retain_history=getattr(args, "retain_iter_history", False),
                reranking=getattr(args, "iter_decode_with_external_reranker", False),
                latent_samples=self.cfg.latent_search_samples,
                temperature=self.cfg.latent_search_temperature,
                seed=getattr(args, "seed", 1),
            )
        if is_nat_model(models[0]):
            return super().build_generator(models, args, **kwargs)
        return TranslationTask.build_generator(self, models, args, **kwargs)

    def _check_pairing(self, model: Any, criterion: Any) -> None:
        if not self._checked_pairing:
            check_model_criterion_pairing(model, criterion)
            self._checked_pairing = True

    def train_step(self, sample: dict[str, Any], model: Any, criterion: Any, optimizer: Any, update_num: int, ignore_grad: bool = False) -> Any:
        """One update; first hands the update count to the criterion (annealing schedules) explicitly."""
        self._check_pairing(model, criterion)
        if hasattr(criterion, "set_num_updates"):
            criterion.set_num_updates(update_num)
        if is_nat_model(model):
            return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)
        return TranslationTask.train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad)

    def optimizer_step(self, optimizer: Any, model: Any, update_num: int) -> None:
        """fairseq's step, then (with ``--param-digest-interval``) this rank's digest of the updated state."""
        super().optimizer_step(optimizer, model, update_num)
        every = self.cfg.param_digest_interval
        if every > 0 and (update_num + 1) % every == 0:
            import sys

            import torch.distributed as dist

            from fairseq_nat_study.utils.digest import state_digest

            rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
            # printed, not logged: fairseq silences INFO logging on every rank but the first
            print(f"nat_study param digest | rank {rank} | update {update_num + 1} | "
                  f"{state_digest(unwrap_model(model).state_dict())}", file=sys.stderr, flush=True)

    def valid_step(self, sample: dict[str, Any], model: Any, criterion: Any) -> Any:
        """Validation loss (and, with ``--eval-bleu``, BLEU) for AR and NAT models alike."""
        self._check_pairing(model, criterion)
        if is_nat_model(model):
            sample["prev_target"] = self.inject_noise(sample["target"])
        return TranslationTask.valid_step(self, sample, model, criterion)
