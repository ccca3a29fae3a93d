"""Data utilities for the NAT study: synthetic corpora with known statistics."""
