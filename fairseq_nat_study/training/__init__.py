"""The training driver: fairseq-train in segments with early stopping on the validation curve."""
