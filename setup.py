"""fairseq_nat_study: a fairseq plugin to train, decode and study non-autoregressive translation models.

Install with ``make test`` / ``make demo`` (they build the pinned environment in ``.venv/``): fairseq itself
is built from a hash-pinned sdist against the pinned torch, which pip's dependency resolution cannot express,
so ``install_requires`` lists only what is safe to resolve.
"""
from setuptools import find_packages, setup

setup(
    name="fairseq_nat_study",
    version="0.1.0",
    description="Train, decode and study non-autoregressive translation models with fairseq",
    packages=find_packages(include=["fairseq_nat_study", "fairseq_nat_study.*"]),
    package_data={"fairseq_nat_study.config": ["*.yaml"]},  # the fairseq-hydra-train configs
    python_requires=">=3.10",
    install_requires=["torch>=2.6", "sacrebleu>=2.0", "numpy"],
    entry_points={"console_scripts": ["fairseq-nat-study = fairseq_nat_study.cli.main:main"]},
)
