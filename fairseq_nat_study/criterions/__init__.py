"""Criterions of the plugin; importing this module registers them all."""
from fairseq_nat_study.criterions import elbo, glat, mle  # noqa: F401

__all__ = ["elbo", "glat", "mle"]
