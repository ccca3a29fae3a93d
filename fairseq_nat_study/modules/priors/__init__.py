"""Priors p(z|x) over one latent vector per target position."""
