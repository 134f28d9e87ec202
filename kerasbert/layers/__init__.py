"""Keras layers the encoder and its heads are made of.

The stack's sublayers (``attention.SelfAttentionBlock``,
``feed_forward.FeedForwardBlock``) are not exported: they work on the stack's
private ``[batch * seq, hidden]`` layout.
"""

from kerasbert.layers.dropout import Dropout
from kerasbert.layers.embeddings import EncoderEmbeddings
from kerasbert.layers.masked_lm_head import MaskedLMHead
from kerasbert.layers.pooling import SequencePooling
from kerasbert.layers.transformer_stack import SharedTransformerEncoder

__all__ = [
    "Dropout",
    "EncoderEmbeddings",
    "MaskedLMHead",
    "SequencePooling",
    "SharedTransformerEncoder",
]
