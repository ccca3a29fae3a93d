"""Vanilla non-autoregressive Transformer (Gu et al. 2018, "Non-Autoregressive Neural Machine Translation").

``p(y|x) = p(T|x) · Π_t p(y_t|x, T)``: the decoder reads a uniform copy of the source embeddings at ``T``
target positions and predicts every token independently. Encoder, decoder layers, uniform copy and the
length head are fairseq's ``NATransformerModel``; this subclass changes three things:

- targets use fairseq's translation layout ``y </s>`` (no BOS), the same as the autoregressive models, so
  AR and NAT models share binarised data, one task and one log-likelihood convention (``T = |y| + 1``);
- only real tokens are predicted (not BOS/EOS), so ``log p(T|x) + Σ_t log p(y_t|x,T)`` is the exact
  log-likelihood of the reference;
- the uniform copy is correct for left-padded sources (fairseq's translation default), see
  :mod:`fairseq_nat_study.modules.nat_decoder`;
- a training or validation pair whose length difference |y| − |x| lies outside fairseq's length classes
  ([−128, 127]) is refused with one line, where fairseq would clamp its class (evaluation scores it −inf);
- decoding is one parallel pass from the length skeleton; later refinement steps of fairseq's generator
  repeat the same pass, so its early stop ends decoding after the first step whatever
  ``--iter-decode-max-iter`` is.
The model returns fairseq's named-term dict and reads no criterion option.
"""
from __future__ import annotations

from argparse import Namespace
from typing import Any

import torch
from fairseq.iterative_refinement_generator import DecoderOut
from fairseq.models import register_model, register_model_architecture
from fairseq.models.nat.nonautoregressive_transformer import NATransformerModel
from fairseq.modules.transformer_sentence_encoder import init_bert_params
from fairseq.models.nat.nonautoregressive_transformer import base_architecture as nat_base_architecture

from fairseq_nat_study.modules.length_predictor import refuse_out_of_support
from fairseq_nat_study.modules.nat_decoder import UniformCopyNATDecoder
from fairseq_nat_study.utils.args import MINI_SIZES, TINY_SIZES, as_namespace, set_defaults
from fairseq_nat_study.utils.errors import PluginError
from fairseq_nat_study.utils.tensor import length_skeleton, mask_targets, token_mask


@register_model("nat_study_nat")
class VanillaNATModel(NATransformerModel):
    """Vanilla NAT p(y|x) = p(T|x) Π_t p(y_t|x,T) with uniform source-embedding copy."""

    @classmethod
    def build_model(cls, args: Any, task: Any) -> Any:
        # fairseq-hydra-train passes a DictConfig, from which fairseq keeps only TransformerConfig's fields
        return super().build_model(as_namespace(args), task)

    @classmethod
    def build_decoder(cls, args: Namespace, tgt_dict: Any, embed_tokens: Any) -> UniformCopyNATDecoder:
        decoder = UniformCopyNATDecoder(args, tgt_dict, embed_tokens)
        if getattr(args, "apply_bert_init", False):
            decoder.apply(init_bert_params)
        return decoder

    def forward(
        self,
        src_tokens: torch.Tensor,
        src_lengths: torch.Tensor,
        prev_output_tokens: torch.Tensor,
        tgt_tokens: torch.Tensor,
        **kwargs: Any,
    ) -> dict[str, dict[str, Any]]:
        """Teacher-forced terms of ``log p(y|x)``.

        Args:
            src_tokens: [B, S]; src_lengths: [B].
            prev_output_tokens: [B, T] decoder input: the target with tokens replaced by ``<unk>``
                (``--noise full_mask``); a real token at a position reveals it (GLAT's glancing input).
            tgt_tokens: [B, T] reference ``y </s>``.

        Returns:
            ``word_ins``: ``out`` [B, T, V] logits, ``tgt`` [B, T], ``mask`` [B, T] (real tokens);
            ``length``: ``out`` [B, 256] logits, ``tgt`` [B] length class, ``factor``.
        """
        if prev_output_tokens.shape != tgt_tokens.shape:
            raise PluginError(
                f"{type(self).__name__} reads the target with tokens replaced by <unk>; got decoder input "
                f"{tuple(prev_output_tokens.shape)} for target {tuple(tgt_tokens.shape)}: train with --noise full_mask "
                "(the nat_study_translation default)"
            )
        encoder_out = self.encoder(src_tokens, src_lengths=src_lengths, **kwargs)
        length_out = self.decoder.forward_length(normalize=False, encoder_out=encoder_out)
        if getattr(self.decoder, "pred_length_offset", False):  # fairseq clamps the class to offsets [-128, 127]
            masks = encoder_out["encoder_padding_mask"]
            src_len = (~masks[0]).sum(1) if masks else src_tokens.new_full((src_tokens.size(0),), src_tokens.size(1))
            refuse_out_of_support(tgt_tokens.ne(self.pad).sum(1) - src_len, -128, 127, type(self).__name__,
                                  "(fairseq's 256 length classes)", lambda need: "split or drop such sentences")
        length_tgt = self.decoder.forward_length_prediction(length_out, encoder_out, tgt_tokens)
        word_ins_out = self.decoder(normalize=False, prev_output_tokens=prev_output_tokens, encoder_out=encoder_out)
        return {
            "word_ins": {"out": word_ins_out, "tgt": tgt_tokens, "mask": token_mask(tgt_tokens, self.pad, self.eos)},
            "length": {"out": length_out, "tgt": length_tgt, "factor": self.decoder.length_loss_factor},
        }

    def initialize_output_tokens(self, encoder_out: dict[str, list[torch.Tensor]], src_tokens: torch.Tensor) -> DecoderOut:
        """The length skeleton ``unk × (T̂-1) </s>`` for the argmax length ``T̂`` of p(T|x)."""
        length_out = self.decoder.forward_length(normalize=True, encoder_out=encoder_out)
        lengths = self.decoder.forward_length_prediction(length_out, encoder_out=encoder_out).clamp(min=2)
        tokens = length_skeleton(lengths, self.pad, self.unk, self.eos)
        scores = tokens.new_zeros(tokens.size()).type_as(encoder_out["encoder_out"][0])
        return DecoderOut(output_tokens=tokens, output_scores=scores, attn=None, step=0, max_step=0, history=None)

    def regenerate_length_beam(self, decoder_out: DecoderOut, beam_size: int) -> DecoderOut:
        """Replaces each skeleton by ``beam_size`` skeletons of lengths ``T̂ - beam//2 .. T̂ + beam//2``."""
        lengths = decoder_out.output_tokens.ne(self.pad).sum(1)
        offsets = torch.arange(beam_size, device=lengths.device) - beam_size // 2
        lengths = (lengths[:, None] + offsets[None, :]).view(-1).clamp(min=2)
        tokens = length_skeleton(lengths, self.pad, self.unk, self.eos)
        scores = tokens.new_zeros(tokens.size()).type_as(decoder_out.output_scores)
        return decoder_out._replace(output_tokens=tokens, output_scores=scores)

    def forward_decoder(self, decoder_out: DecoderOut, encoder_out: dict[str, list[torch.Tensor]], **kwargs: Any) -> DecoderOut:
        """One parallel pass: ``ŷ_t = argmax p(y_t|x,T)`` at every real position, EOS kept in place."""
        skeleton = mask_targets(decoder_out.output_tokens, self.pad, self.unk, self.eos)
        log_probs = self.decoder(normalize=True, prev_output_tokens=skeleton, encoder_out=encoder_out, step=0)
        scores, tokens = log_probs.max(-1)
        write = token_mask(skeleton, self.pad, self.eos)
        output_tokens = skeleton.masked_scatter(write, tokens[write])
        output_scores = decoder_out.output_scores.masked_scatter(write, scores[write])
        history = decoder_out.history
        if history is not None:
            history.append(output_tokens.clone())
        return decoder_out._replace(output_tokens=output_tokens, output_scores=output_scores, attn=None, history=history)


@register_model_architecture("nat_study_nat", "nat_study_nat_base")
def nat_study_nat_base(args: Namespace) -> None:
    """Transformer-base sizes; uniform source copy; length as an offset |y| - |x|; λ_length = 1 (exact NLL)."""
    set_defaults(args, length_loss_factor=1.0)
    # Uniform copy and offset length prediction define this model (store_true flags parse to False, so
    # they are set, not defaulted).
    args.src_embedding_copy = True
    args.pred_length_offset = True
    nat_base_architecture(args)


@register_model_architecture("nat_study_nat", "nat_study_nat_tiny")
def nat_study_nat_tiny(args: Namespace) -> None:
    """2+2 layers, d=64, 2 heads: for CPU tests and the quick study."""
    set_defaults(args, **TINY_SIZES)
    nat_study_nat_base(args)


@register_model_architecture("nat_study_nat", "nat_study_nat_mini")
def nat_study_nat_mini(args: Namespace) -> None:
    """3+3 layers, d=128, 4 heads, FFN 512: CPU studies of real data."""
    set_defaults(args, **MINI_SIZES)
    nat_study_nat_base(args)
