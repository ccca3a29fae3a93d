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
  criterion has it (KL annealing, the KL budget, GLAT's ratio); fairseq's trainer never tells criterions.
- **Rank agreement.** ``--param-digest-interval N`` prints, on every data-parallel rank, a SHA-256 digest of
  the model state every N updates (``utils.digest``): ranks that do not print the same digest have drifted.
- **Clear pairing errors.** Every model refuses a criterion of another family when the criterion is built
  (before any update): AR models take AR criterions, NAT and GLAT models ``nat_study_mle``/``nat_study_glat``
  (or fairseq's NAT loss), latent models only ``nat_study_elbo``; the error names ``--arch`` and ``--criterion``.
- **The references' scores.** ``fairseq-generate --score-reference`` scores the references of NAT and latent
  models too (``generation.reference_scoring``: exact for NAT/GLAT, IWAE-``--iw-samples`` for latent models).
- **The training dictionaries.** Every checkpoint carries a digest of the source and target dictionaries, and a
  checkpoint used with other dictionaries is refused (``tasks.dictionary_guard``).
- **One-line refusals.** Bad input the task decides on (a model family mixed into an ensemble, a criterion of
  another family, an empty split, a file that is not a checkpoint, option values out of range) ends the fairseq
  tool with ``<tool>: error: <message>`` (``utils.errors.PluginError``), never a stack trace.
"""

import logging
import os
from argparse import Namespace
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from fairseq.models.nat import FairseqNATModel
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task
from fairseq.tasks.translation import TranslationTask
from fairseq.tasks.translation_lev import NOISE_CHOICES, TranslationLevenshteinConfig, TranslationLevenshteinTask

from fairseq_nat_study.tasks.dictionary_guard import (DICTIONARY_KEY, WeightsRefusal, dictionary_record,
                                                      embedding_size_message, mismatch_message)
from fairseq_nat_study.utils.checkpoint import guard_fairseq_checkpoint_loading
from fairseq_nat_study.utils.errors import PluginError

logger = logging.getLogger(__name__)
guard_fairseq_checkpoint_loading()

LATENT_RANK_CHOICES = ChoiceEnum(["likelihood", "elbo"])

#: Criterions each kind of model trains with (class names); an AR model takes any criterion not listed here.
NAT_CRITERIONS = ("NatMleCriterion", "GlatCriterion", "LabelSmoothedDualImitationCriterion")
LATENT_CRITERIONS = ("ElboCriterion",)
KIND_NAMES = {"ar": "an autoregressive", "nat": "a non-autoregressive", "latent": "a latent-variable"}
CRITERION_FLAGS = {"latent": "nat_study_elbo", "nat": "nat_study_mle or nat_study_glat",
                   "ar": "an autoregressive criterion, e.g. label_smoothed_cross_entropy"}
WHY_NOT = {
    "latent": "a latent model trains only with nat_study_elbo: another criterion drops the KL, lets the posterior "
              "see the target, and logs no likelihood",
    "nat": "a non-autoregressive model needs a NAT criterion",
    "ar": "an autoregressive model needs an autoregressive criterion",
}


def unwrap_model(model: Any) -> Any:
    """The model inside fairseq's distributed / proxy wrappers."""
    while hasattr(model, "module"):
        model = model.module
    return model


def is_nat_model(model: Any) -> bool:
    """True for every fairseq non-autoregressive model (ours included)."""
    return isinstance(unwrap_model(model), FairseqNATModel)


def model_kind(model: Any) -> str:
    """``latent`` (``nat_study_latent``), ``nat`` (any other fairseq NAT model) or ``ar``."""
    if getattr(unwrap_model(model), "is_latent_model", False):
        return "latent"
    return "nat" if is_nat_model(model) else "ar"


def criterion_kind(criterion: Any) -> str:
    """The kind of model a criterion trains: ``latent``, ``nat`` or ``ar``."""
    name = type(criterion).__name__
    return "latent" if name in LATENT_CRITERIONS else "nat" if name in NAT_CRITERIONS else "ar"


def check_model_criterion_pairing(model: Any, criterion: Any) -> None:
    """Raises :class:`PluginError` (a ``ValueError``) naming ``--arch`` and ``--criterion`` when they cannot train
    together."""
    kind = model_kind(model)
    if criterion_kind(criterion) != kind:
        raise PluginError(
            f"--arch gives {KIND_NAMES[kind]} model ({type(unwrap_model(model)).__name__}) but --criterion is "
            f"{type(criterion).__name__}: {WHY_NOT[kind]}; use {CRITERION_FLAGS[kind]}"
        )


def check_one_family(kinds: Sequence[str], reranking: bool) -> None:
    """Raises :class:`PluginError` when ``--path`` mixes model families (fairseq's generators average the models
    of one family; an AR model beside a NAT or latent one fails inside decoding). With
    ``--iter-decode-with-external-reranker`` the last checkpoint of a NAT/latent ``--path`` is the teacher and is
    checked by ``generation.options``."""
    decoders = list(kinds[:-1]) if reranking and len(kinds) > 1 and kinds[0] != "ar" else list(kinds)
    if len(set(decoders)) > 1:
        listed = ", ".join(f"{i + 1}: {KIND_NAMES[k].split(' ', 1)[1]}" for i, k in enumerate(kinds))
        raise PluginError(
            f"--path mixes model families ({listed}): an ensemble averages models of one family; give "
            "checkpoints of one family, or a NAT/latent model first and an AR teacher last with "
            "--iter-decode-with-external-reranker")


def decoding_seed(args: Any) -> int:
    """The seed of latent search: ``args.seed`` when the caller's options carry one; otherwise torch's initial
    seed, which ``fairseq-generate`` and ``fairseq-interactive`` set from ``--seed`` (they pass only the
    generation options to ``build_generator``)."""
    seed = getattr(args, "seed", None)
    return int(seed) if seed is not None else int(torch.initial_seed()) % 2**63


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
    latent_rank: LATENT_RANK_CHOICES = field(
        default="likelihood", metadata={"help": "latent models: rank length candidates and latent samples by "
                                                "log p(ŷ|z,x) + log p(T|x) (likelihood) or by the ELBO of ŷ (elbo); "
                                                "an AR teacher (--iter-decode-with-external-reranker) overrides both"}
    )
    param_digest_interval: int = field(
        default=0, metadata={"help": "every N updates, print on every rank a SHA-256 digest of the model state "
                                     "(data-parallel ranks must print the same digests); 0: never"}
    )
    iw_samples: int = field(
        default=20, metadata={"help": "latent models, fairseq-generate --score-reference: posterior samples K of "
                                      "the importance-weighted bound IWAE-K (1: the ELBO)"}
    )


def check_task_options(cfg: NatStudyTranslationConfig) -> None:
    """Raises :class:`PluginError` for the first task option out of its range."""
    minimum = {"latent_search_samples": (1, "latent starts per length candidate; 1: the prior mode only"),
               "param_digest_interval": (0, "updates between digests of the model state; 0: never"),
               "iw_samples": (1, "posterior samples of the importance-weighted bound; 1: the ELBO")}
    for name, (low, meaning) in minimum.items():
        value = getattr(cfg, name, low)
        if value is not None and value < low:
            raise PluginError(f"--{name.replace('_', '-')} must be >= {low} ({meaning}), got {value}")
    temperature = getattr(cfg, "latent_search_temperature", 1.0)
    if temperature is not None and not temperature > 0:
        raise PluginError(f"--latent-search-temperature must be > 0, got {temperature}")


@register_task("nat_study_translation", dataclass=NatStudyTranslationConfig)
class NatStudyTranslationTask(TranslationLevenshteinTask):
    """Translation for AR and NAT models on one data layout, with no sentence dropped."""

    cfg: NatStudyTranslationConfig

    def __init__(self, cfg: NatStudyTranslationConfig, src_dict: Any, tgt_dict: Any) -> None:
        check_task_options(cfg)
        super().__init__(cfg, src_dict, tgt_dict)
        self._checked_pairing = False
        self._noted_batch_multiple = False
        self.state.merge_state_dict({DICTIONARY_KEY: self.dictionary_record()})

    def dictionary_record(self) -> dict[str, dict[str, Any]]:
        """The digests, sizes and files of this task's source and target dictionaries."""
        return dictionary_record(self.src_dict, self.tgt_dict, self.cfg.data, self.cfg.source_lang,
                                 self.cfg.target_lang)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """fairseq's task state of a checkpoint; refused when its dictionaries are not this task's (checkpoints
        saved before the plugin recorded them load with a warning)."""
        saved = state_dict.get(DICTIONARY_KEY)
        if saved is None:
            logger.warning("this checkpoint records no dictionary digests (saved by an older version): it is not "
                           "checked against %s", ", ".join(r["file"] for r in self.dictionary_record().values()))
        else:
            message = mismatch_message(saved, self.dictionary_record())
            if message is not None:
                raise PluginError(message)
        super().load_state_dict({k: v for k, v in state_dict.items() if k != DICTIONARY_KEY})

    def load_dataset(self, split: str, epoch: int = 1, combine: bool = False, **kwargs: Any) -> None:
        """fairseq's ``translation`` layout (``translation_lev`` would prepend BOS to both sides); an empty split
        is refused (fairseq cannot memory-map its empty files)."""
        self._refuse_empty_split(split)
        TranslationTask.load_dataset(self, split, epoch=epoch, combine=combine, **kwargs)

    def _refuse_empty_split(self, split: str) -> None:
        """Raises :class:`PluginError` when a side of ``split`` (binarised in the first data directory) is empty."""
        src, tgt = self.cfg.source_lang, self.cfg.target_lang
        data = self.cfg.data.split(os.pathsep)[0] if self.cfg.data else None
        if not (data and src and tgt):
            return
        for pair in (f"{src}-{tgt}", f"{tgt}-{src}"):
            files = [os.path.join(data, f"{split}.{pair}.{lang}.bin") for lang in (src, tgt)]
            if all(os.path.isfile(f) for f in files):
                empty = [f for f in files if os.path.getsize(f) == 0]
                if empty:
                    raise PluginError(f"split {split} of {data} holds no sentences ({empty[0]} is empty): "
                                      "binarise a non-empty text file for it, or choose another split")
                return

    def build_dataset_for_inference(self, src_tokens: list[torch.Tensor], src_lengths: list[int], constraints: Any = None) -> Any:
        return TranslationTask.build_dataset_for_inference(self, src_tokens, src_lengths, constraints=constraints)

    def get_batch_iterator(self, dataset: Any, **kwargs: Any) -> Any:
        """fairseq's iterator with ``required_batch_size_multiple=1``, so no last batch is dropped (said once per
        run, not at every epoch's new iterator)."""
        asked = kwargs.get("required_batch_size_multiple", 1)
        if asked != 1 and not self._noted_batch_multiple:
            self._noted_batch_multiple = True
            logger.info(
                "nat_study_translation batches with required_batch_size_multiple=1 (asked %s): fairseq drops "
                "the last batch of a split otherwise", asked,
            )
        kwargs["required_batch_size_multiple"] = 1
        return super().get_batch_iterator(dataset, **kwargs)

    def build_generator(self, models: Sequence[Any], args: Any, **kwargs: Any) -> Any:
        """The generator of the first model's kind; decoding options it cannot honour end the CLI with
        ``<prog>: error: <flag> ...`` (exit 2) before anything is decoded (``generation.options``)."""
        from fairseq_nat_study.generation.options import DecodingOptionError, check_decoding_options, refuse

        kinds = [model_kind(m) for m in models]
        check_one_family(kinds, bool(getattr(args, "iter_decode_with_external_reranker", False)))
        if getattr(args, "score_reference", False) and kinds[0] != "ar":
            return self._build_reference_scorer(models, args)
        try:
            check_decoding_options(kinds, args, self.cfg.latent_search_samples)
        except DecodingOptionError as err:
            refuse(err)
        if model_kind(models[0]) != "latent":
            self._warn_unused_latent_options()
        if model_kind(models[0]) == "latent":
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
                seed=decoding_seed(args),
                rank=str(self.cfg.latent_rank),
            )
        if is_nat_model(models[0]):
            from fairseq_nat_study.generation.nat_refinement import NatRefinementGenerator

            # fairseq's translation_lev arguments, with the generator whose reranker reads our layout
            return NatRefinementGenerator(
                self.target_dictionary,
                eos_penalty=getattr(args, "iter_decode_eos_penalty", 0.0),
                max_iter=getattr(args, "iter_decode_max_iter", 10),
                beam_size=getattr(args, "iter_decode_with_beam", 1),
                reranking=getattr(args, "iter_decode_with_external_reranker", False),
                decoding_format=getattr(args, "decoding_format", None),
                adaptive=not getattr(args, "iter_decode_force_max_iter", False),
                retain_history=getattr(args, "retain_iter_history", False),
            )
        return TranslationTask.build_generator(self, models, args, **kwargs)

    def _build_reference_scorer(self, models: Sequence[Any], args: Any) -> Any:
        """``--score-reference`` with a NAT or latent model: the scorer of ``generation.reference_scoring``."""
        from fairseq_nat_study.scoring.exact import UnsupportedModelError, model_family
        from fairseq_nat_study.generation.reference_scoring import NatReferenceScorer

        if len(models) > 1:
            raise PluginError(f"--score-reference with --path of {len(models)} checkpoints: a non-autoregressive "
                              "model scores references alone; give one checkpoint")
        try:
            model_family(unwrap_model(models[0]))
        except UnsupportedModelError as err:
            raise PluginError(f"--score-reference: {err}") from None
        return NatReferenceScorer(self.target_dictionary, iw_samples=self.cfg.iw_samples, seed=decoding_seed(args))

    def _warn_unused_latent_options(self) -> None:
        """One warning per latent-search option set away from its default for a model that has no latent."""
        defaults = NatStudyTranslationConfig()
        for name in ("latent_search_samples", "latent_search_temperature", "latent_rank"):
            value = getattr(self.cfg, name)
            if str(value) != str(getattr(defaults, name)):
                logger.warning("--%s %s is ignored: it applies to latent models (nat_study_ga_*, nat_study_fl_*) "
                               "only", name.replace("_", "-"), value)

    def build_model(self, cfg: Any, from_checkpoint: bool = False) -> Any:
        """fairseq's model, remembered so that ``build_criterion`` can refuse a criterion of another family."""
        model = super().build_model(cfg, from_checkpoint)
        self._built_model = model
        model.register_load_state_dict_pre_hook(self._check_weights)
        return model

    def _check_weights(self, module: Any, state_dict: dict[str, Any], prefix: str, local_metadata: Any,
                       *args: Any) -> None:
        """Before a checkpoint's weights load (fairseq-generate, a resumed fairseq-train, the plugin's tools):
        embeddings of another size, or a dictionary record that differs (passed along by fairseq's checkpoint
        reader, also where fairseq's trainer resumes without calling ``load_state_dict`` of the task), mean
        another dictionary; refused in one line, not a size-mismatch trace."""
        if prefix:
            return
        current = self.dictionary_record()
        saved = (local_metadata or {}).get("task_state", {}).get(DICTIONARY_KEY)  # utils.checkpoint.attach_task_state
        message = embedding_size_message(module, state_dict, current) or (
            mismatch_message(saved, current) if saved else None)
        if message is not None:
            raise WeightsRefusal(message)

    def build_criterion(self, cfg: Any) -> Any:
        """fairseq's criterion, checked against the model built before it (fairseq-train builds the model first)."""
        criterion = super().build_criterion(cfg)
        model = getattr(self, "_built_model", None)
        if model is not None:
            check_model_criterion_pairing(model, criterion)
            if hasattr(criterion, "adopt_model"):  # nat_study_elbo: the default objective depends on the prior
                criterion.adopt_model(model)
                logger.info("nat_study_elbo objective: %s", criterion.objective())
        return criterion

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
