"""Joint subword models of the data stage: subword-nmt BPE (Sennrich et al. 2016) or SentencePiece (Kudo and
Richardson 2018; unigram language model or BPE). One model is learned on the training source + target text and
applied to every split; the segmented text is what ``fairseq-preprocess`` binarises.

Undoing the segmentation is :func:`fairseq_nat_study.analysis.bleu.remove_subwords` (``@@ `` joins for
subword-nmt; pieces concatenated and ``▁`` turned back into spaces for SentencePiece), so BLEU is computed on
the text the subword model was learned from.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

#: SentencePiece's model types offered by ``prepare --spm-type``
SPM_TYPES = ("unigram", "bpe")
#: the model's file stem under the data stage's ``spm/`` folder (``spm.model``, ``spm.vocab``)
SPM_STEM = "spm"


@dataclass
class SubwordResult:
    """What a data stage records about its subword model in ``data.json``.

    Attributes:
        kind: ``subword_nmt`` or ``sentencepiece`` (the names of fairseq's ``--post-process`` options).
        model: the model file (BPE codes, or the SentencePiece ``.model``), relative to ``data.json``'s folder.
        size: BPE merge operations, or the SentencePiece vocabulary size.
        model_type: SentencePiece ``unigram``/``bpe``; ``None`` for subword-nmt.
    """

    kind: str
    model: str
    size: int
    model_type: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "model": self.model, "size": self.size,
                **({"model_type": self.model_type} if self.model_type else {})}


def _joint_training_text(text: Path, src: str, tgt: str) -> list[str]:
    """The training source lines followed by the training target lines."""
    return [line for lang in (src, tgt) for line in (text / f"train.{lang}").read_text(encoding="utf-8").splitlines()]


def _write_split(out: Path, split: str, lang: str, lines: Sequence[str]) -> None:
    (out / f"{split}.{lang}").write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def learn_and_apply_bpe(text: Path, out: Path, merges: int, src: str, tgt: str, splits: Sequence[str],
                        progress: Callable[[str], None]) -> SubwordResult:
    """Joint BPE codes (``out/codes``) learned on the training source + target, applied to every split.

    Args:
        text: folder with ``<split>.<lang>`` text files.
        out: folder the codes and the segmented ``<split>.<lang>`` files are written to.
        merges: merge operations (pairs seen fewer than twice are never merged).
    """
    from subword_nmt.apply_bpe import BPE
    from subword_nmt.learn_bpe import learn_bpe

    codes = out / "codes"
    progress(f"learning {merges} joint BPE merges on the training text ...")
    with open(codes, "w", encoding="utf-8") as handle:
        learn_bpe(io.StringIO("".join(line + "\n" for line in _joint_training_text(text, src, tgt))), handle, merges,
                  min_frequency=2)
    with open(codes, encoding="utf-8") as handle:
        model = BPE(handle)
    for split in splits:
        for lang in (src, tgt):
            lines = (text / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()
            _write_split(out, split, lang, [model.process_line(line) for line in lines])
        progress(f"BPE applied to {split}")
    return SubwordResult("subword_nmt", f"{out.name}/codes", merges)


def learn_and_apply_sentencepiece(text: Path, out: Path, vocab_size: int, model_type: str, src: str, tgt: str,
                                  splits: Sequence[str], progress: Callable[[str], None],
                                  threads: int = 1) -> SubwordResult:
    """One joint SentencePiece model (``out/spm.model``, ``out/spm.vocab``) learned on the training source +
    target, applied to every split (pieces separated by spaces, one line per line).

    The model covers every character of the training text (``character_coverage`` 1) and normalises nothing
    (``identity`` rule), so decoding the pieces gives back the text exactly (up to runs of spaces); it has no
    BOS/EOS pieces (fairseq adds its own).

    Args:
        vocab_size: pieces in the model, ``<unk>`` included.
        model_type: ``unigram`` or ``bpe``.

    Raises:
        RuntimeError: SentencePiece cannot learn a model of that size from the text (its own reason, one line).
    """
    import sentencepiece as spm

    if model_type not in SPM_TYPES:
        raise ValueError(f"SentencePiece model type {model_type!r} is not one of {', '.join(SPM_TYPES)}")
    prefix = out / SPM_STEM
    progress(f"learning a joint {vocab_size}-piece SentencePiece {model_type} model on the training text ...")
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(_joint_training_text(text, src, tgt)), model_prefix=str(prefix),
            vocab_size=vocab_size, model_type=model_type, character_coverage=1.0,
            normalization_rule_name="identity", bos_id=-1, eos_id=-1, num_threads=max(1, threads),
            input_sentence_size=0, minloglevel=2)
    except RuntimeError as err:  # SentencePiece's message: "Internal: <file>(<line>) [<check>] <reason>"
        reason = str(err).strip().splitlines()[-1].split("] ")[-1]
        raise RuntimeError(f"SentencePiece could not learn a {vocab_size}-piece {model_type} model from the "
                           f"training text: {reason}") from None
    model = spm.SentencePieceProcessor(model_file=f"{prefix}.model")
    for split in splits:
        for lang in (src, tgt):
            lines = (text / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()
            _write_split(out, split, lang, [" ".join(p) for p in model.encode(lines, out_type=str)])
        progress(f"SentencePiece applied to {split}")
    return SubwordResult("sentencepiece", f"{out.name}/{SPM_STEM}.model", vocab_size, model_type)
