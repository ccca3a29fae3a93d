"""Keep the memory of large CPU tensors in the process heap between training steps (glibc only).

glibc's ``malloc`` serves every request above its mmap threshold (128 KiB, rising by itself to at most 32 MiB)
with a fresh ``mmap`` and returns it to the kernel on ``free``. A tiny model's logits over a subword vocabulary are far
larger (4,096 tokens x 6,000 types x 4 bytes = 98 MB), and each training step allocates several such tensors
(logits, log-probabilities and their gradients), so every step maps them again and the kernel zeroes them
page by page: on 2 CPU cores a third of a tiny AR model's training time was system time
(``docs/BENCHMARKS.md``). Raising the mmap and trim thresholds keeps those blocks in the heap for reuse. The
price is a higher resident set: freed blocks stay mapped, up to the peak of one step plus fragmentation.

``NAT_STUDY_MMAP_THRESHOLD`` (bytes) sets the threshold; ``0`` leaves glibc's defaults alone. Elsewhere than
glibc (macOS, musl) nothing is changed.
"""
from __future__ import annotations

import ctypes
import functools
import os

#: the environment variable that sets the threshold in bytes (0: glibc's defaults)
ENV = "NAT_STUDY_MMAP_THRESHOLD"
#: 1 GiB: above any one tensor of a tiny or base model's training step on CPU
DEFAULT_THRESHOLD = 1 << 30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc <malloc.h>
_INT_MAX = 2**31 - 1

_applied: int | None = None


def threshold_from_env() -> int:
    """The threshold ``NAT_STUDY_MMAP_THRESHOLD`` asks for (``DEFAULT_THRESHOLD`` when unset).

    Raises:
        ValueError: if the variable is not a non-negative integer.
    """
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_THRESHOLD
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{ENV}={raw!r}: expected a number of bytes (0 keeps glibc's defaults)") from None
    if value < 0:
        raise ValueError(f"{ENV}={raw!r}: must be >= 0 (0 keeps glibc's defaults)")
    return value


def keep_large_allocations(threshold: int | None = None) -> int:
    """Raises glibc's mmap threshold to ``threshold`` bytes and its trim threshold to twice that.

    Args:
        threshold: bytes (at most 2**31 - 1, mallopt's ``int``; larger values are lowered to it); ``None`` reads
            ``NAT_STUDY_MMAP_THRESHOLD``; ``0`` changes nothing.

    Returns:
        The threshold in force from this call on (0 when glibc's defaults are kept, or on another C library).
        Idempotent: a second call with the same threshold does nothing.
    """
    global _applied
    value = min(threshold_from_env() if threshold is None else threshold, _INT_MAX)
    if value == 0 or value == _applied:
        return _applied or 0
    libc = _glibc()
    if libc is None:
        return 0
    if not (libc.mallopt(_M_MMAP_THRESHOLD, value) and libc.mallopt(_M_TRIM_THRESHOLD, min(2 * value, _INT_MAX))):
        return 0
    _applied = value
    return value


@functools.lru_cache(maxsize=None)
def _glibc() -> ctypes.CDLL | None:
    """The C library this process runs on when it is glibc (it has ``gnu_get_libc_version``), else None; looked
    up once, in the symbols already loaded (no search for a library file)."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (absent from every other C library)
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc
