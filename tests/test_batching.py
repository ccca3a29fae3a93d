"""fairseq drops the last batch of a split unless its size is a multiple of --required-batch-size-multiple;
nat_study_translation never does."""
from __future__ import annotations

from fairseq.tasks.translation import TranslationTask

from conftest import NUM_VALID
from fairseq_nat_study.analysis.loading import load_model_and_task, load_split


def _ids(task, dataset, multiple: int) -> set[int]:
    itr = task.get_batch_iterator(dataset=dataset, max_sentences=16, required_batch_size_multiple=multiple)
    return {i for batch in itr.next_epoch_itr(shuffle=False) for i in batch["id"].tolist()}


def test_every_sentence_is_batched_with_the_default_multiple(two_mode) -> None:
    _, task = load_model_and_task(str(two_mode.nat), str(two_mode.data))
    dataset = load_split(task, str(two_mode.data), "valid")
    assert _ids(task, dataset, multiple=8) == set(range(NUM_VALID))


def test_upstream_translation_task_drops_the_remainder(two_mode) -> None:
    """Documents the fairseq behaviour the task works around (if this starts failing, fairseq fixed it)."""
    _, task = load_model_and_task(str(two_mode.nat), str(two_mode.data))
    dataset = load_split(task, str(two_mode.data), "valid")
    dropped = NUM_VALID - len(_ids(_Upstream(task), dataset, multiple=8))
    assert dropped > 0


class _Upstream:
    """fairseq's own ``get_batch_iterator`` on the same task instance."""

    def __init__(self, task):
        self.task = task

    def get_batch_iterator(self, **kwargs):
        return TranslationTask.get_batch_iterator(self.task, **kwargs)


def test_batches_have_the_size_asked_for_on_every_call(two_mode) -> None:
    """fairseq caches one batch iterator per dataset; a second call with another size must not get the first
    call's batches (this once made batch-128 speed figures run at batch 1)."""
    from fairseq_nat_study.analysis.loglik import iterate_batches

    _, task = load_model_and_task(str(two_mode.nat), str(two_mode.data))
    dataset = load_split(task, str(two_mode.data), "valid")
    for size in (1, 64, 7, 1):
        sizes = [len(b["id"]) for b in iterate_batches(task, dataset, max_tokens=None, max_sentences=size)]
        assert max(sizes) == size and sum(sizes) == NUM_VALID
