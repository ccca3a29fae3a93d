"""The study's reading: findings, the report's tables and the figures rendered into the README and the docs."""
