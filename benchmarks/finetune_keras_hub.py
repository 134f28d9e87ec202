"""Fine-tuning benchmark worker: keras-hub (BertTextClassifier, own span head)."""

from __future__ import annotations

import time

from benchmarks.finetune_data import (
    classification_scores,
    regression_scores,
    squad_scores,
)
from benchmarks.finetune_squad import squad_data, squad_predictions
from benchmarks.finetune_worker import schedule_steps, sentence_inputs, worker_metrics


def keras_optimizer(spec: dict, total_steps: int, warmup_steps: int):
    """keras AdamW on HF's linear warmup/decay, no decay on bias/gamma/beta.

    Clips the global gradient norm at ``max_grad_norm`` (0: no clipping).
    """
    import keras

    peak = spec["learning_rate"]

    class WarmupLinear(keras.optimizers.schedules.LearningRateSchedule):
        """lr = peak * step / warmup, then peak * (total - step) / (total - warmup)."""

        def __call__(self, step):
            step = keras.ops.cast(step, "float32")
            warming = peak * step / max(warmup_steps, 1)
            decaying = peak * keras.ops.maximum(
                0.0, (total_steps - step) / max(total_steps - warmup_steps, 1)
            )
            return keras.ops.where(step < warmup_steps, warming, decaying)

    optimizer = keras.optimizers.AdamW(
        learning_rate=WarmupLinear(),
        weight_decay=spec["weight_decay"],
        epsilon=spec["adam_epsilon"],
        global_clipnorm=spec["max_grad_norm"] or None,
    )
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def step_timer():
    """A keras callback recording each training step's wall time."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_train_batch_begin(self, batch, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return StepTimer()


def keras_fit(model, dataset, spec: dict) -> tuple[float, list[float]]:
    """``model.fit`` over ``dataset``; (seconds, step times)."""
    timer = step_timer()
    start = time.perf_counter()
    model.fit(dataset, epochs=spec["epochs"], callbacks=[timer], verbose=0)
    return time.perf_counter() - start, timer.seconds


def string_dataset(first, second, labels=None):
    """tf.data of raw strings: ``x`` or ``(x, y)``, ``x`` a text or a text pair."""
    import tensorflow as tf

    features = first if second is None else (first, second)
    if labels is None:
        return tf.data.Dataset.from_tensor_slices((features,))
    return tf.data.Dataset.from_tensor_slices((features, labels))


def keras_hub_tokenize_seconds(preprocessor, datasets: list, batch_size: int) -> float:
    """Seconds of one pass of ``preprocessor`` over the (unbatched) datasets."""
    import tensorflow as tf

    start = time.perf_counter()
    for dataset in datasets:
        mapped = dataset.batch(batch_size).map(
            lambda *x: preprocessor(*x), num_parallel_calls=tf.data.AUTOTUNE
        )
        for _ in mapped:
            pass
    return time.perf_counter() - start


def keras_hub_sentence_task(spec: dict, backbone) -> dict:
    import keras
    import keras_hub
    import numpy as np

    regression = spec["task"] == "stsb"
    first, second, labels = sentence_inputs(spec, "train")
    dev_first, dev_second, dev_labels = sentence_inputs(spec, "validation")
    label_array = np.asarray(labels, "float32" if regression else "int32")
    if regression:
        label_array = label_array.reshape(-1, 1)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=spec["vocab"], lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=spec["max_seq_length"]
    )
    train = string_dataset(first, second, label_array)
    dev = string_dataset(dev_first, dev_second)
    tokenize_seconds = keras_hub_tokenize_seconds(
        preprocessor, [train, dev], spec["batch_size"]
    )
    model = keras_hub.models.BertTextClassifier(
        backbone,
        num_classes=1 if regression else 2,
        preprocessor=preprocessor,
        dropout=spec["dropout"],
    )
    total, warmup = schedule_steps(len(labels), spec)
    model.compile(
        optimizer=keras_optimizer(spec, total, warmup),
        loss=keras.losses.MeanSquaredError()
        if regression
        else keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    batches = train.shuffle(len(labels), seed=spec["seed"]).batch(spec["batch_size"])
    train_seconds, step_seconds = keras_fit(model, batches, spec)
    start = time.perf_counter()
    logits = model.predict(dev.batch(128), verbose=0)
    final = (regression_scores if regression else classification_scores)(
        dev_labels, logits
    )
    return worker_metrics(
        spec,
        final,
        len(labels),
        train_seconds,
        tokenize_seconds,
        time.perf_counter() - start,
        step_seconds,
        notes="tokenize_seconds: a separate pass of the keras-hub preprocessor; "
        "inside fit it runs in the tf.data pipeline, overlapping training",
    )


def keras_hub_span_model(backbone, sequence_length: int):
    """``Dense(2)`` over the backbone's ``sequence_output``: start/end logits."""
    import keras

    inputs = {
        name: keras.Input(shape=(sequence_length,), dtype="int32", name=name)
        for name in ("token_ids", "segment_ids", "padding_mask")
    }
    sequence = backbone(inputs)["sequence_output"]
    logits = keras.layers.Dense(
        2,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        name="span_logits",
    )(sequence)
    start = keras.layers.Lambda(lambda t: t[..., 0], name="start")(logits)
    end = keras.layers.Lambda(lambda t: t[..., 1], name="end")(logits)
    return keras.Model(inputs, [start, end])


def keras_hub_inputs(windows: dict) -> dict:
    return {
        "token_ids": windows["input_ids"],
        "segment_ids": windows["token_type_ids"],
        "padding_mask": windows["attention_mask"],
    }


def keras_hub_squad_task(spec: dict, backbone) -> dict:
    import keras
    import tensorflow as tf
    from transformers import BertTokenizerFast

    tokenizer = BertTokenizerFast.from_pretrained(spec["model"])
    train, dev_examples, dev, tokenize_seconds = squad_data(spec, tokenizer)
    model = keras_hub_span_model(backbone, spec["max_seq_length"])
    examples = len(train["input_ids"])
    total, warmup = schedule_steps(examples, spec)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        optimizer=keras_optimizer(spec, total, warmup),
        loss=[loss, loss],
        loss_weights=[0.5, 0.5],
    )
    dataset = tf.data.Dataset.from_tensor_slices(
        (keras_hub_inputs(train), (train["start_positions"], train["end_positions"]))
    )
    batches = dataset.shuffle(examples, seed=spec["seed"]).batch(spec["batch_size"])
    train_seconds, step_seconds = keras_fit(model, batches, spec)
    start = time.perf_counter()
    start_logits, end_logits = model.predict(
        keras_hub_inputs(dev), batch_size=128, verbose=0
    )
    predictions = squad_predictions(dev_examples, dev, start_logits, end_logits, spec)
    return worker_metrics(
        spec,
        squad_scores(spec["validation"], predictions),
        examples,
        train_seconds,
        tokenize_seconds,
        time.perf_counter() - start,
        step_seconds,
        notes="own head: Dense(2) on BertBackbone sequence_output; windows from "
        "HF's BertTokenizerFast (keras-hub has no BERT span-QA task)",
    )


def run_keras_hub(spec: dict) -> dict:
    import keras

    keras.utils.set_random_seed(spec["seed"])
    backbone = keras.saving.load_model(spec["keras_hub_model"])
    if spec["task"] == "squad":
        return keras_hub_squad_task(spec, backbone)
    return keras_hub_sentence_task(spec, backbone)
