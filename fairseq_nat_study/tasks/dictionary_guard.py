"""The dictionaries a checkpoint was trained with, recorded in it and checked against the data it is used on.

A model's embedding rows and output classes are the symbols of its training dictionaries, in their order.
fairseq does not check that the data-bin given to ``fairseq-generate`` (or ``-validate``, ``-interactive``, a
resumed ``fairseq-train``, the plugin's tools) holds the same dictionaries: one of the same size in another order
decodes and scores garbage with exit status 0, one of another size fails deep inside ``load_state_dict``.

``nat_study_translation`` therefore keeps a :func:`dictionary_record` (SHA-256 of each dictionary's symbols, its
size and file) in its task state, which fairseq saves in every checkpoint (``task_state``) and hands back to
the task's ``load_state_dict`` when it loads one; :func:`mismatch_message` compares the two. A checkpoint saved
before the record existed loads as before, with a warning. Independently of any record, the embedding sizes of
a checkpoint are compared with the model built from the current dictionaries (:func:`embedding_size_message`),
and, where fairseq's trainer resumes (``fairseq-train --restore-file``) without showing the task the state it
loads, the record reaches the same pre-hook through ``utils.checkpoint.attach_task_state``.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from fairseq_nat_study.utils.errors import program_name

#: The task-state key of the record.
DICTIONARY_KEY = "nat_study_dictionaries"
#: Embedding matrices whose rows are a dictionary's symbols: parameter name -> side.
EMBEDDING_SIDES = {
    "encoder.embed_tokens.weight": "source",
    "decoder.embed_tokens.weight": "target",
    "decoder.output_projection.weight": "target",
}


class WeightsRefusal(SystemExit):
    """A checkpoint whose weights do not fit the model built for this data: one line
    ``<tool>: error: <message>``, exit status 1, no traceback.

    Not a ``ValueError`` like ``utils.errors.PluginError``: fairseq's trainer replaces every ``Exception`` raised
    while a resumed checkpoint's weights load by a generic one with a stack trace, and a ``SystemExit`` passes
    through. The plugin's loaders (``analysis.loading``) turn it into a ``ValueError``.
    """

    def __init__(self, message: str) -> None:
        line = f"{program_name()}: error: {message}"
        super().__init__(line)
        self.message = message
        self.code = line


def dictionary_file(data: str | None, lang: str | None) -> str:
    """Where fairseq's translation task reads the dictionary of ``lang``: ``<first data dir>/dict.<lang>.txt``."""
    if not data or not lang:
        return f"dict.{lang}.txt"
    return os.path.join(data.split(os.pathsep)[0], f"dict.{lang}.txt")


def dictionary_record(src_dict: Any, tgt_dict: Any, data: str | None, src: str | None,
                      tgt: str | None) -> dict[str, dict[str, Any]]:
    """``{"source"|"target": {"sha256", "symbols", "file"}}`` of a task's two dictionaries."""
    from fairseq_nat_study.utils.digest import dictionary_digest

    return {
        side: {"sha256": dictionary_digest(d), "symbols": len(d), "file": dictionary_file(data, lang)}
        for side, d, lang in (("source", src_dict, src), ("target", tgt_dict, tgt))
    }


def mismatch_message(saved: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """What differs between the record a checkpoint carries and the current dictionaries (one line), or None."""
    for side in ("source", "target"):
        old, new = saved.get(side), current.get(side)
        if not old or not new or old.get("sha256") == new.get("sha256"):
            continue
        order = " (same size, other symbols or order)" if old.get("symbols") == new.get("symbols") else ""
        return (
            f"the checkpoint was trained with another {side} dictionary: {old.get('file')} (sha256 "
            f"{str(old.get('sha256'))[:16]}, {old.get('symbols')} symbols) against {new.get('file')} (sha256 "
            f"{str(new.get('sha256'))[:16]}, {new.get('symbols')} symbols){order}; use the data-bin the model "
            "was trained on, or binarise this data with its dictionaries (fairseq-preprocess --srcdict/--tgtdict)"
        )
    return None


def embedding_size_message(model: Any, state_dict: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """One line when an embedding matrix of ``state_dict`` has another number of rows than ``model``'s (a
    dictionary of another size), else None."""
    own = dict(model.named_parameters())
    for name, side in EMBEDDING_SIDES.items():
        saved, built = state_dict.get(name), own.get(name)
        if saved is None or built is None or not hasattr(saved, "shape") or saved.shape[0] == built.shape[0]:
            continue
        file = current.get(side, {}).get("file", f"the {side} dictionary")
        return (
            f"the checkpoint's {side} embeddings ({name}) have {saved.shape[0]} rows but {file} holds "
            f"{built.shape[0]} symbols: the model was trained with another {side} dictionary; use the data-bin "
            "it was trained on, or binarise this data with its dictionaries (fairseq-preprocess --srcdict/--tgtdict)"
        )
    return None
