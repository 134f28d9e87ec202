"""``tf.distribute`` strategies by name and exact global-batch input sharding."""

from __future__ import annotations

import tensorflow as tf

from kerasbert.pretraining_options import STRATEGIES


def create_strategy(
    name: str, tpu_address: str | None = None
) -> tf.distribute.Strategy:
    """Builds a strategy.

    Args:
        name: ``default`` (one device), ``mirrored`` (all local devices),
            ``multiworker`` (MultiWorkerMirroredStrategy; cluster from
            ``TF_CONFIG``) or ``tpu`` (TPUStrategy).
        tpu_address: TPU name or ``grpc://host:port`` for ``tpu``; empty or
            ``None`` resolves the local/Cloud TPU.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=tpu_address or ""
        )
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}.")


def global_batch_size(dataset: tf.data.Dataset) -> int:
    """The static leading dimension shared by every feature of ``dataset``.

    Raises:
        ValueError: a dynamic or inconsistent batch dimension (batch with
            ``drop_remainder=True``).
    """
    sizes = {spec.shape[0] for spec in tf.nest.flatten(dataset.element_spec)}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(
            "The dataset must yield fixed-size global batches (batch with "
            f"drop_remainder=True); got leading dimensions {sizes}."
        )
    return sizes.pop()


def distribute_global_batches(
    strategy: tf.distribute.Strategy, dataset: tf.data.Dataset
) -> tf.distribute.DistributedDataset:
    """Splits each global batch of ``dataset`` across all replicas, in order.

    Replica ``r`` (numbered across workers) of step ``k`` gets rows
    ``[r * b, (r + 1) * b)`` of global batch ``k``, ``b = global / replicas``,
    so a run computes the same thing on any number of workers and devices.
    Every worker must build the same ``dataset`` (same files, order, seed).

    Raises:
        ValueError: the global batch does not divide among the replicas.
    """
    batch = global_batch_size(dataset)
    replicas = strategy.num_replicas_in_sync
    if batch % replicas:
        raise ValueError(
            f"Global batch {batch} is not divisible by {replicas} replicas."
        )
    per_replica = batch // replicas

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local * per_replica

        def split(features):
            return tf.nest.map_structure(
                lambda t: tf.reshape(
                    t[first : first + local * per_replica],
                    [local, per_replica, *t.shape[1:]],
                ),
                features,
            )

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.OFF
        )
        return (
            dataset.map(split)
            .unbatch()
            .prefetch(tf.data.AUTOTUNE)
            .with_options(options)
        )

    return strategy.distribute_datasets_from_function(dataset_fn)
