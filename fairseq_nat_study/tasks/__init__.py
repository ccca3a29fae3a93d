"""Tasks of the plugin; importing this module registers them."""
from fairseq_nat_study.tasks import translation_nat_study  # noqa: F401

__all__ = ["translation_nat_study"]
