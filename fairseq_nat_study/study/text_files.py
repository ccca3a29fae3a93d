"""Reading a study's parallel text files: both sides of a split, sliced, with errors that name the config key
and the file."""
from __future__ import annotations

from pathlib import Path

from fairseq_nat_study.study.errors import StudyConfigError


def read_parallel(stem: Path, src_lang: str, tgt_lang: str, key: str, window: list[int] | None = None,
                  window_key: str = "") -> tuple[list[str], list[str]]:
    """The lines of ``<stem>.<src_lang>`` and ``<stem>.<tgt_lang>``, sliced by ``window`` = [first, end);
    errors name the config ``key`` (and ``window_key``) and the file."""
    paths = [Path(f"{stem}.{lang}") for lang in (src_lang, tgt_lang)]
    for p in paths:
        if not p.is_file():
            raise StudyConfigError(f"{key}: no file {p}")
    src, tgt = (p.read_text(encoding="utf-8").splitlines() for p in paths)
    if len(src) != len(tgt):
        raise StudyConfigError(f"{key}: {paths[0]} has {len(src)} lines but {paths[1]} has {len(tgt)}")
    if window:
        if len(window) != 2 or not 0 <= window[0] < window[1] <= len(src):
            raise StudyConfigError(f"{window_key or key}: {window} is not a [first, end) slice of {len(src)} lines")
        src, tgt = src[window[0]:window[1]], tgt[window[0]:window[1]]
    return src, tgt


def refuse_empty_lines(src: list[str], tgt: list[str], key: str, files: str) -> None:
    """Raises ``StudyConfigError`` naming ``key``, the ``files`` and the first line numbers of empty lines."""
    empty = [i + 1 for i, (s, t) in enumerate(zip(src, tgt)) if not s.strip() or not t.strip()]
    if empty:
        raise StudyConfigError(f"{key}: {len(empty)} empty lines in {files} (first line numbers {empty[:5]})")
