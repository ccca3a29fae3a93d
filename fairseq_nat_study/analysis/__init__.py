"""Analysis utilities for the NAT study: evaluation metrics and diagnostics."""
