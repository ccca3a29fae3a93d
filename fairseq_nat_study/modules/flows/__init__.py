"""Normalizing flows over per-position latents z [B, T, D] for the flow prior p(z|x) (FlowSeq, Ma et al. 2019;
Glow, Kingma & Dhariwal 2018). Direction convention (nflows): ``forward`` maps a latent to base noise."""
