"""Keras layers the encoder and its heads are made of."""

from kerasbert.layers.attention import SelfAttentionBlock
from kerasbert.layers.dropout import Dropout
from kerasbert.layers.embeddings import EncoderEmbeddings
from kerasbert.layers.feed_forward import FeedForwardBlock
from kerasbert.layers.masked_lm_head import MaskedLMHead
from kerasbert.layers.pooling import SequencePooling
from kerasbert.layers.transformer_encoder import SharedTransformerEncoder

__all__ = [
    "Dropout",
    "EncoderEmbeddings",
    "FeedForwardBlock",
    "MaskedLMHead",
    "SelfAttentionBlock",
    "SequencePooling",
    "SharedTransformerEncoder",
]
