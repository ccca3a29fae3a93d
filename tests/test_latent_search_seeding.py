"""Latent search draws each sentence's samples from a generator seeded by (--seed, sentence id): a sentence's
candidates are the same whatever batch it is decoded in, and another seed gives other candidates."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fairseq.data import LanguagePairDataset

from plugin_builders import build_for_training, write_dicts
from fairseq_nat_study.generation.latent_refinement import LatentRefinementGenerator, sentence_noise

NUM_SENTENCES = 7


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    """A randomly initialised tiny Gaussian latent model (eval mode) and seven sentences of 2–8 letters."""
    data = write_dicts(tmp_path_factory.mktemp("letters"))
    task, model, _ = build_for_training(data, ["--arch", "nat_study_ga_tiny", "--criterion", "nat_study_elbo"])
    torch.manual_seed(0)
    with torch.no_grad():  # a prior away from N(0, I), so that samples and the mode decode differently
        model.prior.out.weight.normal_(std=0.1)
    model.eval()
    d = task.source_dictionary
    gen = torch.Generator().manual_seed(1)
    sents = [torch.cat([torch.randint(d.nspecial, len(d), (int(n),), generator=gen), torch.tensor([d.eos()])])
             for n in torch.randint(2, 9, (NUM_SENTENCES,), generator=gen)]
    dataset = LanguagePairDataset(sents, [len(s) for s in sents], d, sents, [len(s) for s in sents], d)
    return model, task, dataset


def _decode(tiny, batch_size: int, seed: int = 7, rank: str = "likelihood") -> dict[int, list[tuple]]:
    """sentence id -> [(tokens, score)] of every candidate, best first, decoding the sentences in batches of
    ``batch_size``."""
    model, task, dataset = tiny
    generator = LatentRefinementGenerator(task.target_dictionary, max_iter=1, beam_size=2, latent_samples=3,
                                          temperature=1.0, seed=seed, rank=rank)
    out: dict[int, list[tuple]] = {}
    for start in range(0, NUM_SENTENCES, batch_size):
        sample = dataset.collater([dataset[i] for i in range(start, min(start + batch_size, NUM_SENTENCES))])
        for sid, hypos in zip(sample["id"].tolist(), generator.generate([model], sample)):
            out[sid] = [(tuple(h["tokens"].tolist()), float(h["score"])) for h in hypos]
    return out


def _same(a: dict[int, list[tuple]], b: dict[int, list[tuple]]) -> bool:
    """The same candidates in the same order, scores equal up to float rounding (padding moves float sums)."""
    return a.keys() == b.keys() and all(
        [t for t, _ in a[k]] == [t for t, _ in b[k]] and [s for _, s in a[k]] == pytest.approx([s for _, s in b[k]],
                                                                                             rel=1e-5, abs=1e-4)
        for k in a)


def test_outputs_do_not_depend_on_the_batch(tiny) -> None:
    alone, threes, together = _decode(tiny, 1), _decode(tiny, 3), _decode(tiny, NUM_SENTENCES)
    assert len(alone) == NUM_SENTENCES and _same(alone, threes) and _same(alone, together)
    assert max(len(c) for c in alone.values()) > 1  # the samples decode to candidates of their own


def test_elbo_ranking_does_not_depend_on_the_batch(tiny) -> None:
    """The ELBO rank's posterior sample z' is seeded per sentence too (its own stream)."""
    assert _same(_decode(tiny, 3, rank="elbo"), _decode(tiny, NUM_SENTENCES, rank="elbo"))


def test_another_seed_gives_other_samples(tiny) -> None:
    assert not _same(_decode(tiny, NUM_SENTENCES, seed=7), _decode(tiny, NUM_SENTENCES, seed=8))


def test_sentence_noise_depends_only_on_the_sentence() -> None:
    like = torch.zeros(())
    both = sentence_noise([5, 9], 2, torch.tensor([3, 2, 4, 4]), 2, seed=1, stream=0, like=like)
    alone = sentence_noise([9], 2, torch.tensor([4, 4]), 2, seed=1, stream=0, like=like)
    assert both.shape == (4, 4, 2) and torch.equal(both[2:], alone)
    assert both[0, 3].abs().sum() == 0 and both[1, 2:].abs().sum() == 0  # zero beyond each row's length
    other_stream = sentence_noise([9], 2, torch.tensor([4, 4]), 2, seed=1, stream=1, like=like)
    assert not torch.equal(alone, other_stream)
