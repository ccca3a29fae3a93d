"""The glibc heap setting the plugin applies on registration: parsing of its variable, and its effect on the
page faults of repeated large allocations (counted by the kernel, not timed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fairseq_nat_study.utils import cpu_heap

GLIBC = cpu_heap._glibc() is not None

# 20 allocations of 100 MB, each written once: with glibc's defaults each is a fresh mmap the kernel faults in
# page by page (about 24,000 minor faults each); kept in the heap, only the first is faulted in.
PROBE = """
import json, resource, sys
import fairseq, torch
import fairseq_nat_study
from fairseq_nat_study.utils import cpu_heap
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    torch.empty(25_000_000, dtype=torch.float32).fill_(1.0)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"applied": cpu_heap._applied, "faults": faults}))
"""


def test_threshold_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cpu_heap.ENV, raising=False)
    assert cpu_heap.threshold_from_env() == cpu_heap.DEFAULT_THRESHOLD == 1 << 30
    monkeypatch.setenv(cpu_heap.ENV, " 0 ")
    assert cpu_heap.threshold_from_env() == 0
    assert cpu_heap.keep_large_allocations() == (cpu_heap._applied or 0)  # 0: nothing new is applied
    monkeypatch.setenv(cpu_heap.ENV, "268435456")
    assert cpu_heap.threshold_from_env() == 256 << 20
    for bad, why in (("1G", "expected a number of bytes"), ("-5", "must be >= 0")):
        monkeypatch.setenv(cpu_heap.ENV, bad)
        with pytest.raises(ValueError, match=f"NAT_STUDY_MMAP_THRESHOLD='{bad}': {why}"):
            cpu_heap.threshold_from_env()


def _probe(env_value: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != cpu_heap.ENV}
    if env_value is not None:
        env[cpu_heap.ENV] = env_value
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # two new processes that import fairseq and allocate (about 17 s on 2 cores)
@pytest.mark.skipif(not GLIBC, reason="the setting exists on glibc only")
def test_registering_the_plugin_keeps_large_blocks_in_the_heap() -> None:
    kept = _probe(None)  # the plugin's default, applied by importing it after fairseq
    assert kept["applied"] == cpu_heap.DEFAULT_THRESHOLD
    mapped = _probe("0")  # glibc's defaults
    assert mapped["applied"] is None
    assert mapped["faults"] > 20 * 20_000  # every 100 MB block faulted in afresh (24,414 pages each)
    assert kept["faults"] < mapped["faults"] / 5, (kept, mapped)
    assert cpu_heap.keep_large_allocations(1 << 40) == 2**31 - 1  # mallopt takes an int: lowered, and said so
