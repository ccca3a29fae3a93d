"""Shared helpers: tensors, checkpoints, losses (no fairseq registration here)."""
