"""The encoder's stack of transformer blocks, parameters shared in groups.

One block (keras-hub's ``TransformerEncoder``) is an attention sublayer and a
feed-forward sublayer (``attention.py``, ``feed_forward.py``); this module
holds the whole stack. Its class keeps the name ``SharedTransformerEncoder``:
Keras files address the weights of a functional model's layers by class name
(``layers/shared_transformer_encoder/...``), so a new name would orphan the
weights of every ``.keras`` encoder saved so far.
"""

from __future__ import annotations

import keras

from kerasbert.layers.attention import SelfAttentionBlock
from kerasbert.layers.feed_forward import FeedForwardBlock
from kerasbert.layers.renamed_arguments import LoadsRenamedArguments

SHARED_COMPONENTS = ("all", "attention", "feed_forward")


def group_of_layer(layer_index: int, num_layers: int, num_groups: int) -> int:
    """Parameter group used by block ``layer_index``: floor(i * G / L)."""
    return layer_index * num_groups // num_layers


@keras.saving.register_keras_serializable(package="kerasbert")
class SharedTransformerEncoder(LoadsRenamedArguments, keras.layers.Layer):
    """``num_layers`` transformer blocks computed with ``num_groups`` parameter sets.

    Block ``i`` uses parameter group ``floor(i * num_groups / num_layers)``, so
    ``num_groups == num_layers`` is BERT (no sharing) and ``num_groups == 1``
    is ALBERT (all blocks share one set). ``shared_components`` chooses what the
    groups share, as in the ALBERT paper's ablation: ``"all"`` shares attention
    and feed-forward sublayers, ``"attention"`` shares only attention (each
    block keeps its own feed-forward), ``"feed_forward"`` only feed-forward.

    The blocks work on tokens flattened to ``[batch * seq, hidden_size]``
    (2-D dense layers fuse with their bias and activation); that layout is
    private to this layer, whose inputs and outputs are ``[batch, seq, H]``.

    Call arguments:
        inputs: ``[batch, seq, hidden_size]`` embeddings.
        attention_bias: float32 ``[batch, 1, 1, seq]``.
        training: enables dropout.
        output_positions: optional int32 ``[batch, P]``: the last block
            computes only these positions (attending to all of them). A
            masked-LM loss reads the last layer at the masked positions only,
            so this skips the last block's attention output, feed-forward and
            scores for every other token, with the same result there.

    Returns:
        A list of ``num_layers + 1`` tensors ``[batch, seq, hidden_size]``: the
        input followed by every block's output (the last is the sequence
        output; with ``norm_first`` it has passed the final LayerNorm). With
        ``output_positions`` the last is ``[batch, P, hidden_size]``.
    """

    def __init__(
        self,
        num_layers: int,
        num_heads: int,
        hidden_size: int,
        intermediate_size: int,
        num_groups: int | None = None,
        shared_components: str = "all",
        hidden_activation: str = "gelu",
        dropout_rate: float = 0.1,
        attention_dropout_rate: float = 0.1,
        layer_norm_epsilon: float = 1e-12,
        norm_first: bool = False,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        num_groups = num_layers if num_groups is None else num_groups
        if not 1 <= num_groups <= num_layers:
            raise ValueError(
                f"num_groups must be in [1, num_layers={num_layers}], got {num_groups}."
            )
        if shared_components not in SHARED_COMPONENTS:
            raise ValueError(
                f"shared_components must be one of {SHARED_COMPONENTS}, "
                f"got {shared_components!r}."
            )
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_groups = num_groups
        self.shared_components = shared_components
        self.hidden_activation = hidden_activation
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.norm_first = norm_first
        self.initializer_range = initializer_range

        common = dict(
            hidden_size=hidden_size,
            dropout_rate=dropout_rate,
            layer_norm_epsilon=layer_norm_epsilon,
            norm_first=norm_first,
            initializer_range=initializer_range,
            dtype=self.dtype_policy,
        )
        self.attention_blocks = [
            SelfAttentionBlock(
                num_heads=num_heads,
                attention_dropout_rate=attention_dropout_rate,
                name=f"attention_{g}",
                **common,
            )
            for g in range(self.num_attention_sets)
        ]
        self.feed_forward_blocks = [
            FeedForwardBlock(
                intermediate_size=intermediate_size,
                hidden_activation=hidden_activation,
                name=f"feed_forward_{g}",
                **common,
            )
            for g in range(self.num_feed_forward_sets)
        ]
        # Keras 3's TensorFlow backend leaves layers held in Python lists out
        # of the object graph that tf.train.Checkpoint saves and restores
        # (keras-team/keras#18398 was fixed for SavedModel only): without
        # this, `tf.train.Checkpoint(model=...)` silently skips every block.
        for block in self.attention_blocks + self.feed_forward_blocks:
            self._track_trackable(block, name=block.name, overwrite=True)
        self.final_layer_norm = None
        if norm_first:
            self.final_layer_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon,
                dtype=self.dtype_policy,
                name="final_layer_norm",
            )

    @property
    def num_attention_sets(self) -> int:
        """Distinct attention parameter sets."""
        shared = self.shared_components in ("all", "attention")
        return self.num_groups if shared else self.num_layers

    @property
    def num_feed_forward_sets(self) -> int:
        """Distinct feed-forward parameter sets."""
        shared = self.shared_components in ("all", "feed_forward")
        return self.num_groups if shared else self.num_layers

    def block_sublayers(self, layer_index: int):
        """The (attention, feed-forward) sublayers that block ``layer_index`` uses."""
        attention = self.attention_blocks[
            group_of_layer(layer_index, self.num_layers, self.num_attention_sets)
        ]
        feed_forward = self.feed_forward_blocks[
            group_of_layer(layer_index, self.num_layers, self.num_feed_forward_sets)
        ]
        return attention, feed_forward

    def build(self, input_shape):
        flat_shape = (None, self.hidden_size)
        for block in self.attention_blocks + self.feed_forward_blocks:
            block.build(flat_shape)
        if self.final_layer_norm is not None:
            self.final_layer_norm.build(flat_shape)
        self.built = True

    def call(self, inputs, attention_bias, training=None, output_positions=None):
        batch, length = keras.ops.shape(inputs)[0], keras.ops.shape(inputs)[1]
        # The blocks work on [batch * seq, hidden]: every dense layer is then a
        # plain 2-D MatMul, which TF's oneDNN remapper fuses with its bias add
        # (and GELU); the 3-D form goes through tensordot and is not fused.
        x = keras.ops.reshape(inputs, (-1, self.hidden_size))
        flat_states = []
        for layer_index in range(self.num_layers):
            attention, feed_forward = self.block_sublayers(layer_index)
            last = layer_index == self.num_layers - 1
            query_positions = output_positions if last else None
            x = attention(
                x, attention_bias, query_positions=query_positions, training=training
            )
            x = feed_forward(x, training=training)
            flat_states.append(x)
        if self.final_layer_norm is not None:
            flat_states[-1] = self.final_layer_norm(flat_states[-1])
        shape = (batch, length, self.hidden_size)
        states = [inputs] + [keras.ops.reshape(h, shape) for h in flat_states[:-1]]
        if output_positions is not None:
            shape = (batch, keras.ops.shape(output_positions)[1], self.hidden_size)
        return states + [keras.ops.reshape(flat_states[-1], shape)]

    def compute_output_shape(self, input_shape):
        return [input_shape] * (self.num_layers + 1)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_groups=self.num_groups,
            shared_components=self.shared_components,
            hidden_activation=self.hidden_activation,
            dropout_rate=self.dropout_rate,
            attention_dropout_rate=self.attention_dropout_rate,
            layer_norm_epsilon=self.layer_norm_epsilon,
            norm_first=self.norm_first,
            initializer_range=self.initializer_range,
        )
        return config
