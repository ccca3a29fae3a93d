"""Models and architectures of the plugin; importing this module registers them all."""
from fairseq_nat_study.models import autoregressive, glat, latent_nat, vanilla_nat  # noqa: F401

__all__ = ["autoregressive", "glat", "latent_nat", "vanilla_nat"]
