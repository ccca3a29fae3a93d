"""Per-sentence log-likelihoods of the references (no file I/O): exact for AR and NAT models, the
importance-weighted estimate for latent models (:mod:`fairseq_nat_study.scoring.iwae`).

- AR (any fairseq encoder-decoder): ``log p(y|x) = Σ_t log p(y_t|y_<t,x)`` over ``y </s>`` (EOS included).
- NAT (``nat_study_nat``): ``log p(y|x) = log p(T|x) + Σ_t log p(y_t|x,T)`` with ``T = |y| + 1``.

Both are normalised per token by ``|y| + 1`` (tokens plus EOS), so per-token numbers compare across
families: for the NAT the length term stands where the AR model's EOS probability stands.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import torch
from fairseq.data import LanguagePairDataset

from fairseq_nat_study.scoring.exact import (UnsupportedModelError, model_family, nat_token_log_probs,  # noqa: F401
                                            sentence_log_likelihoods)

logger = logging.getLogger(__name__)


@dataclass
class LoglikResult:
    """Per-sentence log-likelihoods of a split, in corpus order."""

    ll: list[float]
    num_tokens: list[int]
    estimator: str
    extra: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ll_per_token(self) -> float:
        """Σ log p / Σ (|y| + 1) in nats (the papers' per-token LL)."""
        return sum(self.ll) / max(sum(self.num_tokens), 1)

    @property
    def ll_per_sentence(self) -> float:
        return sum(self.ll) / max(len(self.ll), 1)

    def per_token(self, name: str) -> float:
        """Σ extra[name] / Σ (|y| + 1), e.g. the ELBO per token of a latent model."""
        return sum(self.extra[name]) / max(sum(self.num_tokens), 1)


def model_max_positions(model: Any, task: Any) -> Any:
    """The (source, target) length limits of a model and task: longer sentences are an error, never cut."""
    from fairseq import utils

    return utils.resolve_max_positions(task.max_positions(), model.max_positions())


def check_lengths(dataset: Any, max_positions: Any) -> None:
    """Raises ``ValueError`` naming the first sentence (0-based line of the split) longer than the model takes.

    fairseq's own check would advise ``--skip-invalid-size-inputs-valid-test``, which the plugin's tools do not
    have: they score every sentence, and skipping one would change the averages without saying so.
    """
    if not isinstance(max_positions, tuple) or not hasattr(dataset, "src_sizes"):
        return
    limits = {"source": (dataset.src_sizes, max_positions[0]), "target": (dataset.tgt_sizes, max_positions[1])}
    for side, (sizes, limit) in limits.items():
        if sizes is None or limit is None:
            continue
        too_long = (sizes > limit).nonzero()[0]
        if len(too_long):
            i = int(too_long[0])
            raise ValueError(
                f"{len(too_long)} sentence(s) longer than the model takes, the first at line {i + 1} of the split: "
                f"{side} {int(sizes[i])} tokens (with EOS) > {limit}; the tools score every sentence and cut none: "
                "remove such pairs from the split (or use a model trained with larger --max-source-positions / "
                "--max-target-positions)")


def iterate_batches(task: Any, dataset: Any, max_tokens: int | None = 4096, max_positions: Any = None,
                    max_sentences: int | None = None) -> Iterable[dict[str, Any]]:
    """Every sentence of ``dataset`` in batches (``required_batch_size_multiple=1``: none dropped) of exactly
    this call's size limits (fairseq's per-dataset iterator cache is bypassed).

    Raises:
        ValueError: a sentence is longer than ``max_positions`` (sentences are never cut or skipped).
    """
    check_lengths(dataset, max_positions)
    itr = task.get_batch_iterator(
        dataset=dataset, max_tokens=max_tokens, max_sentences=max_sentences, max_positions=max_positions,
        ignore_invalid_inputs=False, required_batch_size_multiple=1, seed=1, num_shards=1, shard_id=0,
        # fairseq caches one iterator per dataset and would hand back batches of an earlier, other size
        disable_iterator_cache=True,
    ).next_epoch_itr(shuffle=False)
    yield from itr


def evaluate_dataset(
    model: Any,
    task: Any,
    dataset: Any,
    max_tokens: int = 4096,
    scorer: Callable[[Any, dict[str, Any]], tuple] | None = None,
    progress: Callable[[int, int], None] | None = None,
    iw_samples: int = 100,
    seed: int = 1,
) -> LoglikResult:
    """Scores every reference of ``dataset``; raises if any sentence was not scored.

    The scorer defaults to the exact log-likelihood (AR, NAT) or the IWAE-``iw_samples`` estimate with the
    ELBO beside it (latent models). A scorer returns (ll [B], num_tokens [B]) or (ll, num_tokens, extra),
    where ``extra`` maps names to [B] tensors kept per sentence.
    """
    family = model_family(model)
    if scorer is None:
        if family == "latent":
            from fairseq_nat_study.scoring.iwae import iwae_scorer

            scorer = iwae_scorer(iw_samples, seed)
        else:
            scorer = sentence_log_likelihoods
    n = len(dataset)
    ll: list[float | None] = [None] * n
    ntok: list[int] = [0] * n
    extra: dict[str, list[float]] = {}
    done = 0
    for sample in iterate_batches(task, dataset, max_tokens, max_positions=model_max_positions(model, task)):
        if not sample:
            continue
        sample = to_model_device(sample, model)
        scores, counts, *more = scorer(model, sample)
        for i, sid in enumerate(sample["id"].tolist()):
            ll[sid], ntok[sid] = float(scores[i]), int(counts[i])
            for name, values in (more[0] if more else {}).items():
                extra.setdefault(name, [0.0] * n)[sid] = float(values[i])
        done += len(sample["id"])
        if progress is not None:
            progress(done, n)
    missing = [i for i, v in enumerate(ll) if v is None]
    if missing:
        raise RuntimeError(f"{len(missing)} of {n} sentences were not scored (first ids: {missing[:5]})")
    estimator = f"iwae-{iw_samples}" if family == "latent" and "elbo" in extra else f"exact-{family}"
    return LoglikResult(ll=[float(v) for v in ll], num_tokens=ntok, estimator=estimator, extra=extra)


def to_model_device(sample: dict[str, Any], model: Any) -> dict[str, Any]:
    device = next(model.parameters()).device
    from fairseq import utils

    return utils.move_to_cuda(sample, device=device) if device.type == "cuda" else sample


def make_pair_dataset(task: Any, sources: Sequence[str], targets: Sequence[str]) -> LanguagePairDataset:
    """An in-memory dataset of raw (space-tokenised) sentence pairs in the task's dictionaries.

    Raises:
        ValueError: the two lists differ in length.
    """
    if len(sources) != len(targets):
        raise ValueError(f"{len(sources)} sources but {len(targets)} targets")

    def encode(d: Any, line: str) -> torch.Tensor:
        return d.encode_line(line, add_if_not_exist=False, append_eos=True).long()

    src = [encode(task.source_dictionary, s) for s in sources]
    tgt = [encode(task.target_dictionary, t) for t in targets]
    return LanguagePairDataset(
        src, [len(s) for s in src], task.source_dictionary, tgt, [len(t) for t in tgt], task.target_dictionary,
        left_pad_source=getattr(task.cfg, "left_pad_source", True), left_pad_target=False, shuffle=False,
    )
