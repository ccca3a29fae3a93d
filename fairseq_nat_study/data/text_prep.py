"""Text preparation before BPE: punctuation normalisation and tokenisation with sacremoses (the Python port of
the Moses scripts the WMT recipes use), Romanian normalisation, and length/ratio cleaning of training pairs.

Everything works on lists of lines and keeps line order; cleaning returns the kept line numbers so that what
was dropped is counted and reported, never silently lost.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

#: Romanian letters written with a cedilla (legacy encodings) → the correct comma-below letters.
_RO_CEDILLA = str.maketrans({"ş": "ș", "Ş": "Ș", "ţ": "ț", "Ţ": "Ț"})


@dataclass
class TokenizeOptions:
    """How one side of a corpus is prepared.

    Attributes:
        lang: ISO code given to the Moses normaliser and tokeniser.
        lowercase: lower-case after tokenising (Multi30k's and IWSLT's usual protocol).
        romanian: for ``ro``: cedilla ş/ţ → comma-below ș/ț, then strip diacritics (the WMT'16 En-Ro
            convention of Sennrich's ``normalise-romanian.py`` + ``remove-diacritics.py``).
    """

    lang: str
    lowercase: bool = False
    romanian: bool = False


@lru_cache(maxsize=8)
def _moses(lang: str) -> tuple:
    from sacremoses import MosesPunctNormalizer, MosesTokenizer

    return MosesPunctNormalizer(lang=lang), MosesTokenizer(lang=lang)


def normalise_romanian(line: str) -> str:
    """Comma-below ș/ț for cedilla ş/ţ, then every diacritic removed (ă→a, â→a, î→i, ș→s, ț→t)."""
    line = line.translate(_RO_CEDILLA)
    return "".join(c for c in unicodedata.normalize("NFD", line) if unicodedata.category(c) != "Mn")


def tokenize_line(line: str, opts: TokenizeOptions) -> str:
    """One line: Moses punctuation normalisation, (Romanian normalisation), Moses tokenisation without
    HTML escaping (so detokenised output is plain text), optional lower-casing."""
    normaliser, tokenizer = _moses(opts.lang)
    line = normaliser.normalize(line.strip())
    if opts.romanian:
        line = normalise_romanian(line)
    line = tokenizer.tokenize(line, escape=False, return_str=True)
    line = " ".join(line.split())
    return line.lower() if opts.lowercase else line


def tokenize_lines(lines: Sequence[str], opts: TokenizeOptions, workers: int = 1) -> list[str]:
    """Every line through :func:`tokenize_line`, in order; ``workers`` > 1 uses a process pool."""
    if workers <= 1 or len(lines) < 1000:
        return [tokenize_line(line, opts) for line in lines]
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(partial(tokenize_line, opts=opts), lines, chunksize=500))


def clean_pairs(src: Sequence[str], tgt: Sequence[str], max_len: int, ratio: float) -> list[int]:
    """Indices of the pairs to keep: both sides non-empty, at most ``max_len`` tokens (0: no limit), and a
    token-length ratio of at most ``ratio`` either way (0: no limit) — Moses ``clean-corpus-n`` rules."""
    if len(src) != len(tgt):
        raise ValueError(f"{len(src)} source lines but {len(tgt)} target lines")
    keep = []
    for i, (s, t) in enumerate(zip(src, tgt)):
        ls, lt = len(s.split()), len(t.split())
        if ls == 0 or lt == 0:
            continue
        if max_len and (ls > max_len or lt > max_len):
            continue
        if ratio and (ls > ratio * lt or lt > ratio * ls):
            continue
        keep.append(i)
    return keep
