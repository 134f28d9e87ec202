"""A custom training loop over ``strategy.run`` that works on every strategy.

Keras 3 ``Model.fit`` fails under MultiWorkerMirroredStrategy on this TF/Keras
(keras-team/keras#20585, "unsupported type PerReplica"), so pretraining runs
its own loop: each replica computes loss sums normalized by *global* counts,
gradients are all-reduced and clipped by their global norm, and the reduced
sums give exact global metrics. One run on N workers therefore follows the
same trajectory as one process with the same global batch.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from kerasbert.atomic_files import save_keras_atomically, write_json_atomically
from kerasbert.training.checkpointing import TrainingCheckpoint, is_chief
from kerasbert.training.distribution import (
    distribute_global_batches,
    global_batch_size,
)
from kerasbert.training.optimization import create_optimizer
from kerasbert.training.reporting import ScalarLog, plot_history


class TrainingDataError(RuntimeError):
    """The training data could not be read (corrupt, truncated or exhausted)."""


@dataclass(frozen=True)
class TrainerConfig:
    """Hyperparameters of a pretraining run.

    Attributes:
        total_steps: optimizer steps to reach (a resumed run continues).
        learning_rate: peak learning rate.
        warmup_steps: linear warmup length.
        weight_decay: decoupled weight decay (not on biases/LayerNorm).
        optimizer: ``adamw`` or ``lamb``.
        clip_norm: global gradient-norm clip (0 disables).
        checkpoint_every: steps between checkpoints (and at the end).
        log_every: steps between TensorBoard/history records.
        keep_checkpoints: how many recent checkpoints to keep.
        jit_compile: XLA-compile the forward/backward pass.
        seed: base seed of in-model sampling (ELECTRA) and initialisation.
        progress: show a tqdm progress bar (chief only).
        max_seconds: stop (with a checkpoint) once this much training time
            has passed, even before ``total_steps``; rerunning continues.
            Single-worker only: workers would stop at different steps.
    """

    total_steps: int
    learning_rate: float = 1e-4
    warmup_steps: int = 0
    weight_decay: float = 0.01
    optimizer: str = "adamw"
    clip_norm: float = 1.0
    checkpoint_every: int = 1000
    log_every: int = 100
    keep_checkpoints: int = 3
    jit_compile: bool = False
    seed: int = 0
    progress: bool = True
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        for name in (
            "total_steps",
            "checkpoint_every",
            "log_every",
            "keep_checkpoints",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"max_seconds must be positive, got {self.max_seconds}.")


class Trainer:
    """Trains a ``Pretrainer`` model on global batches under a strategy.

    It knows pretrainers through that protocol only
    (``kerasbert.pretraining.objectives.Pretrainer``): losses and summed
    statistics, their metrics, and the encoder to save for fine-tuning.

    Args:
        build_model: returns a fresh pretrainer (called inside the strategy
            scope, so variables are placed for it).
        config: the run's hyperparameters.
        output_dir: receives ``checkpoints/``, ``logs/`` (TensorBoard),
            ``summary.json``, ``history.png``, ``pretrainer.keras`` and
            ``encoder.keras`` (the pretrainer's ``fine_tuning_encoder``).
            Rerunning with the same directory resumes from its latest
            checkpoint.
        strategy: defaults to the current (default) strategy.
    """

    def __init__(
        self,
        build_model: Callable[[], keras.Model],
        config: TrainerConfig,
        output_dir: str,
        strategy: tf.distribute.Strategy | None = None,
    ):
        self.config = config
        self.output_dir = output_dir
        self.strategy = strategy or tf.distribute.get_strategy()
        if config.max_seconds is not None and isinstance(
            self.strategy, tf.distribute.MultiWorkerMirroredStrategy
        ):
            raise ValueError(
                "max_seconds needs a single worker: each worker's clock would "
                "stop it at a different step and the all-reduce would hang."
            )
        self.chief = is_chief(self.strategy)
        with self.strategy.scope():
            keras.utils.set_random_seed(config.seed)
            self.model = build_model()
            self.optimizer = create_optimizer(
                config.optimizer,
                config.learning_rate,
                config.total_steps,
                config.warmup_steps,
                config.weight_decay,
            )
            self.optimizer.build(self.model.trainable_variables)
            self.step = tf.Variable(
                0,
                dtype=tf.int64,
                trainable=False,
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
                name="step",
            )
        self.checkpoint = TrainingCheckpoint(
            os.path.join(output_dir, "checkpoints"),
            self.strategy,
            max_to_keep=config.keep_checkpoints,
            model=self.model,
            # Dropout's random-generator states are Keras variables that the
            # model's trackable graph omits; saving them makes resumes exact.
            random_states=list(self.model.non_trainable_variables),
            optimizer=self.optimizer,
            step=self.step,
        )
        # XLA scope: with one replica the whole update (forward, backward,
        # clipping, optimizer) compiles into one cluster; with several, the
        # cross-replica all-reduce stays outside and only forward/backward is
        # compiled (on TPUs the whole step is compiled by TPUStrategy anyway).
        self._replicas = self.strategy.num_replicas_in_sync
        jit_all = config.jit_compile and self._replicas == 1
        jit_gradients = config.jit_compile and self._replicas > 1
        self._compiled_gradients = (
            tf.function(self._gradients, jit_compile=True)
            if jit_gradients
            else self._gradients
        )
        self._compiled_update = (
            tf.function(self._update, jit_compile=True) if jit_all else self._update
        )
        #: ``train_step(iterator)`` runs one global step on the next batch of
        #: a distributed iterator and returns ``(sums, loss, gradient_norm)``.
        self.train_step = tf.function(self._distributed_step)

    def _gradients(
        self, features: dict, counts: dict, seed: tf.Tensor
    ) -> tuple[list, dict, tf.Tensor]:
        """Per-replica loss (normalized by global counts), gradients and sums."""
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            totals, sums = self.model.compute_statistics(
                features, training=True, seed=seed
            )
            loss = tf.add_n(
                [
                    weight * totals[name] / tf.maximum(counts[name], 1.0)
                    for name, weight in self.model.objective_weights.items()
                ]
            )
        # Dense gradients: embedding lookups give IndexedSlices, which neither
        # all-reduce nor scale uniformly across strategies.
        grads = [
            None if g is None else tf.convert_to_tensor(g)
            for g in tape.gradient(loss, variables)
        ]
        return grads, sums, loss

    def _update(
        self, features: dict, counts: dict, seed: tf.Tensor
    ) -> tuple[dict, tf.Tensor, tf.Tensor]:
        """Gradients, all-reduced and clipped by global norm, then applied."""
        grads, sums, loss = self._compiled_gradients(features, counts, seed)
        pairs = [
            (g, v)
            for g, v in zip(grads, self.model.trainable_variables, strict=True)
            if g is not None
        ]
        grads = [g for g, _ in pairs]
        if self._replicas > 1:
            context = tf.distribute.get_replica_context()
            grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        if self.config.clip_norm > 0:
            grads, norm = tf.clip_by_global_norm(grads, self.config.clip_norm)
        else:
            norm = tf.linalg.global_norm(grads)
        if self._replicas > 1:
            # Every replica now holds the same global gradient; the optimizer
            # sums over replicas once more, so hand it each replica's share.
            grads = [g * (1.0 / self._replicas) for g in grads]
        self.optimizer.apply(grads, [v for _, v in pairs])
        return sums, loss, norm

    def _replica_step(self, features: dict) -> tuple[dict, tf.Tensor, tf.Tensor]:
        context = tf.distribute.get_replica_context()
        counts = self.model.objective_counts(features)
        if self._replicas > 1:
            counts = context.all_reduce(tf.distribute.ReduceOp.SUM, counts)
        replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
        seed = tf.stack([self.config.seed + replica, tf.cast(self.step, tf.int32)])
        return self._compiled_update(features, counts, seed)

    def _distributed_step(self, iterator) -> tuple[dict, tf.Tensor, tf.Tensor]:
        features = next(iterator)
        sums, loss, norm = self.strategy.run(self._replica_step, args=(features,))
        reduce = self.strategy.reduce
        sums = {
            k: reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in sums.items()
        }
        loss = reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
        norm = reduce(tf.distribute.ReduceOp.MEAN, norm, axis=None)
        self.step.assign_add(1)
        return sums, loss, norm

    def train(self, dataset: tf.data.Dataset) -> dict[str, Any]:
        """Trains up to ``total_steps``, resuming from the latest checkpoint.

        Args:
            dataset: a *deterministic*, repeating dataset of global batches
                (dicts of static-shaped ``[global_batch, ...]`` tensors). On
                resume it is replayed from batch ``step`` onwards.

        Returns:
            The run summary (also written to ``summary.json``).

        Raises:
            TrainingDataError: the data is corrupt or ran out.
        """
        batch = global_batch_size(dataset)
        restored = self.checkpoint.restore_latest()
        start = int(self.step.numpy())
        total = self.config.total_steps
        log = ScalarLog(os.path.join(self.output_dir, "logs") if self.chief else None)
        iterator = iter(distribute_global_batches(self.strategy, dataset.skip(start)))
        bar = tqdm(
            total=total,
            initial=start,
            desc="pretrain",
            unit="step",
            disable=not (self.config.progress and self.chief),
        )
        window: dict[str, np.ndarray] = {}
        window_loss, window_steps, window_start = 0.0, 0, time.perf_counter()
        run_start = time.perf_counter()
        deadline = (
            None
            if self.config.max_seconds is None
            else run_start + self.config.max_seconds
        )
        out_of_time = False
        for step in range(start + 1, total + 1):
            sums, loss, norm = self._next_step(iterator, step)
            out_of_time = deadline is not None and time.perf_counter() >= deadline
            for key, value in sums.items():
                window[key] = window.get(key, 0.0) + value.numpy()
            window_loss += float(loss)
            window_steps += 1
            bar.update(1)
            if step % self.config.log_every == 0 or step == total or out_of_time:
                elapsed = time.perf_counter() - window_start
                scalars = {
                    "loss": window_loss / window_steps,
                    **self.model.summarize_statistics(window),
                    "gradient_norm": float(norm),
                    "learning_rate": float(self.optimizer.learning_rate),
                    "sequences_per_second": batch * window_steps / elapsed,
                }
                log.record(step, scalars)
                bar.set_postfix(loss=f"{scalars['loss']:.3f}")
                window, window_loss, window_steps = {}, 0.0, 0
                window_start = time.perf_counter()
            if step % self.config.checkpoint_every == 0 or step == total or out_of_time:
                self.checkpoint.save(step)
            if out_of_time:
                break
        bar.close()
        log.close()
        summary = {
            "config": dataclasses.asdict(self.config),
            "strategy": type(self.strategy).__name__,
            "replicas": self.strategy.num_replicas_in_sync,
            "global_batch_size": batch,
            "resumed_from": restored,
            "start_step": start,
            "final_step": int(self.step.numpy()),
            "stopped_by_time_limit": out_of_time,
            "wall_seconds": time.perf_counter() - run_start,
            "final_metrics": log.history[-1] if log.history else {},
            "history": log.history,
        }
        if self.chief:
            self._write_outputs(summary)
        return summary

    def _next_step(self, iterator, step: int):
        try:
            return self.train_step(iterator)
        except (tf.errors.OutOfRangeError, StopIteration) as error:
            raise TrainingDataError(
                f"The dataset ran out at step {step}; make it repeat."
            ) from error
        except tf.errors.DataLossError as error:
            raise TrainingDataError(
                f"Corrupt training data at step {step}: {error.message}"
            ) from error

    def _write_outputs(self, summary: dict[str, Any]) -> None:
        os.makedirs(self.output_dir, exist_ok=True)
        write_json_atomically(os.path.join(self.output_dir, "summary.json"), summary)
        if summary["history"]:
            plot_history(
                summary["history"], os.path.join(self.output_dir, "history.png")
            )
        encoder = self.model.fine_tuning_encoder
        for name, model in (("pretrainer", self.model), ("encoder", encoder)):
            save_keras_atomically(model, os.path.join(self.output_dir, f"{name}.keras"))
