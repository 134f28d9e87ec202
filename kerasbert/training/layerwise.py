"""AdamW with layer-wise learning-rate decay (LLRD), as ELECTRA fine-tunes.

The task head trains at the full learning rate, the top transformer block at
``decay`` times it, the one below at ``decay**2``, ..., the embeddings at
``decay**(L + 1)``: lower layers hold general features that fine-tuning should
move least. Weight decay is decoupled (``w -= lr * multiplier * wd * w``, then
the Adam step with ``lr * multiplier``), as ``torch.optim.AdamW`` does for
parameter groups with their own learning rates.
"""

from __future__ import annotations

import re
from typing import Any

import keras

_BLOCK = re.compile(r"(?:^|/)transformer/(?:attention|feed_forward)_(\d+)/")


def variable_depth(path: str, num_layers: int, num_groups: int) -> int:
    """Depth of a variable: 0 embeddings, 1..L blocks, L + 1 everything else.

    Blocks are named by their parameter group (``transformer/attention_3/...``);
    a group shared by several blocks (ALBERT) takes the depth of the highest
    block using it, so it is never slowed more than its top user.

    Args:
        path: the Keras variable path, e.g. ``"transformer/feed_forward_2/..."``.
        num_layers, num_groups: of the encoder (block i uses group
            ``floor(i * G / L)``).
    """
    if path.startswith("embeddings/"):
        return 0
    match = _BLOCK.search(path)
    if match is None:
        return num_layers + 1
    group = int(match.group(1))
    users = [i for i in range(num_layers) if i * num_groups // num_layers == group]
    return max(users) + 1


@keras.saving.register_keras_serializable(package="kerasbert")
class LayerwiseAdamW(keras.optimizers.AdamW):
    """AdamW whose step size shrinks by ``layer_decay`` per layer downwards.

    Args:
        layer_decay: multiplier per layer (1.0: plain AdamW).
        num_layers, num_groups: the encoder's, to place its blocks.
        **kwargs: ``keras.optimizers.AdamW`` arguments.
    """

    def __init__(
        self,
        layer_decay: float = 1.0,
        num_layers: int = 12,
        num_groups: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if not 0.0 < layer_decay <= 1.0:
            raise ValueError(f"layer_decay must be in (0, 1], got {layer_decay}.")
        self.layer_decay = layer_decay
        self.num_layers = num_layers
        self.num_groups = num_groups or num_layers
        self._multipliers: list[float] = []

    def multiplier(self, path: str) -> float:
        """The learning-rate multiplier of the variable at ``path``."""
        depth = variable_depth(path, self.num_layers, self.num_groups)
        return self.layer_decay ** (self.num_layers + 1 - depth)

    def build(self, variables):
        super().build(variables)
        self._multipliers = [self.multiplier(variable.path) for variable in variables]

    def _apply_weight_decay(self, variables):
        """Decay happens in ``update_step``, with each variable's own rate."""

    def update_step(self, gradient, variable, learning_rate):
        rate = learning_rate * self._multipliers[self._get_variable_index(variable)]
        if self._use_weight_decay(variable):
            decay = keras.ops.cast(self.weight_decay, variable.dtype)
            variable.assign_sub(variable * decay * keras.ops.cast(rate, variable.dtype))
        super().update_step(gradient, variable, rate)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "layer_decay": self.layer_decay,
            "num_layers": self.num_layers,
            "num_groups": self.num_groups,
        }
