"""Learning-rate schedule and optimizers for pretraining (AdamW, LAMB)."""

from __future__ import annotations

from typing import Any

import keras

from kerasbert.pretraining_options import OPTIMIZERS

#: Substrings of variable names never decayed: biases and LayerNorm's gamma/beta.
NO_DECAY_NAMES = ("bias", "gamma", "beta")


@keras.saving.register_keras_serializable(package="kerasbert")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to ``peak_learning_rate``, then linear decay.

    ``lr(step) = peak * step / warmup`` for ``step < warmup_steps``, then falls
    linearly to ``end_learning_rate`` at ``total_steps`` and stays there.
    """

    def __init__(
        self,
        peak_learning_rate: float,
        total_steps: int,
        warmup_steps: int = 0,
        end_learning_rate: float = 0.0,
    ):
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}.")
        if not 0 <= warmup_steps <= total_steps:
            raise ValueError(
                f"warmup_steps must be in [0, total_steps={total_steps}], "
                f"got {warmup_steps}."
            )
        self.peak_learning_rate = peak_learning_rate
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.end_learning_rate = end_learning_rate

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup = keras.ops.maximum(float(self.warmup_steps), 1.0)
        warming = self.peak_learning_rate * step / warmup
        decay_steps = max(self.total_steps - self.warmup_steps, 1)
        progress = keras.ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        decaying = self.peak_learning_rate + progress * (
            self.end_learning_rate - self.peak_learning_rate
        )
        return keras.ops.where(step < self.warmup_steps, warming, decaying)

    def get_config(self) -> dict[str, Any]:
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "end_learning_rate": self.end_learning_rate,
        }


def create_optimizer(
    name: str,
    learning_rate: float,
    total_steps: int,
    warmup_steps: int = 0,
    weight_decay: float = 0.01,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-6,
) -> keras.optimizers.Optimizer:
    """AdamW (BERT) or LAMB (large batches) on a warmup + linear-decay schedule.

    Weight decay skips biases and LayerNorm parameters. Gradient clipping is
    left to the trainer, which clips the *global* (all-replica) gradient.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}.")
    schedule = WarmupLinearDecay(learning_rate, total_steps, warmup_steps)
    optimizer_class = (
        keras.optimizers.AdamW if name == "adamw" else keras.optimizers.Lamb
    )
    optimizer = optimizer_class(
        learning_rate=schedule,
        weight_decay=weight_decay,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer
