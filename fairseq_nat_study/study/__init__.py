"""The study pipeline (``fairseq-nat-study study``): config, data preparation, evaluation, stages."""
