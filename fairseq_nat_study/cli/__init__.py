"""Command-line interface ``fairseq-nat-study``."""
