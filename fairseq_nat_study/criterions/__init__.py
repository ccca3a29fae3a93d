"""Criterions of the plugin; importing this module registers them all."""
from fairseq_nat_study.criterions import elbo, mle  # noqa: F401

__all__ = ["elbo", "mle"]
