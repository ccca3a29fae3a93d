"""A model's score of given target sequences, below both decoding and analysis: exact ``log p(y|x)`` for AR and NAT
models (:mod:`~fairseq_nat_study.scoring.exact`; an AR teacher reranking candidates, ``--score-reference``, the
study's LL) and the importance-weighted bound for latent models (:mod:`~fairseq_nat_study.scoring.iwae`)."""
