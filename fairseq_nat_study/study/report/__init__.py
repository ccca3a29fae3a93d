"""The study's reading of its measurements: findings, fit, correlations, tables, formatting, report files.

Metrics themselves live in :mod:`fairseq_nat_study.analysis`; this package turns a study's ``results.json``
into ``report.md``, plots and the findings rows, and imports nothing above it.
"""
