"""Exports a kerasbert model as a TF Serving version directory.

``export_for_serving(model, tokenizer, "BASE/NAME")`` writes
``BASE/NAME/<next version>/`` (SavedModel + warmup requests) and refreshes the
TF Serving kit in ``BASE/NAME`` (see ``serving.kit``). The version is written
into a hidden temporary directory and renamed into place, so a server polling
``BASE/NAME`` never sees a half-written version; on failure nothing is left.

A ``TextTaskModel`` brings its own tokenizer, labels and sequence length
(``export_for_serving(text_model, model_path="BASE/NAME")``) and is served
with signatures in the task's terms (``serving.text_task_signatures``).

The SavedModel is ``tf.saved_model.save`` of a ``ServingModule`` (not
``model.export``, which stores every variable twice: keras-team/keras#23553),
so the variables take parameters x bytes-per-parameter on disk, once.

Before the version appears it is verified the way TF Serving would load it:
TensorFlow's C++ ``LoadSavedModel`` loads the temporary directory
(``serving.saved_model_session``) and every warmup request is replayed
through the server's request path; an export that TF Serving could not run
fails here and leaves nothing behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.saved_model import fingerprinting_utils

from kerasbert.atomic_files import write_bytes_atomically
from kerasbert.finetuning.text_model import TextTaskModel, tokenizer_config
from kerasbert.tokenizers import Tokenizer
from serving.config_files import EXPORT_BATCHING, BatchingParameters
from serving.inference import InferenceEngine
from serving.kit import TEXT_INSTANCE, write_kit
from serving.model_manager import ModelManager, is_version_name
from serving.servable import Servable
from serving.signatures import ServingModule
from serving.text_task_signatures import TextTaskServingModule
from serving.warmup import warmup_logs, write_warmup_file

logger = logging.getLogger("serving")


DEFAULT_SEQUENCE_LENGTH = 128
# The kit's example request for question answering (two inputs).
QUESTION_INSTANCE = '{"question": "Who jumps?", "context": "The fox jumps."}'


@dataclass(frozen=True)
class ExportOptions:
    """How to export.

    Attributes:
        sequence_length: tokens per text after in-graph truncation/padding;
            None: ``DEFAULT_SEQUENCE_LENGTH``, or a ``TextTaskModel``'s own
            (which any value given must equal).
        top_k: MLM candidates per masked position.
        max_predictions: MLM masked positions scored per text.
        labels: class names for ``classify`` (SequenceClassifier); a
            ``TextTaskModel`` has its own (which any given must equal).
        batching: written to the kit's ``batching_parameters``.
    """

    sequence_length: int | None = None
    top_k: int = 5
    max_predictions: int = 8
    labels: list[str] | None = None
    batching: BatchingParameters = field(default_factory=lambda: EXPORT_BATCHING)


@dataclass(frozen=True)
class ExportResult:
    """Where an export went and what it holds."""

    version: int
    path: Path
    signatures: dict[str, list[str]]  # signature -> output names
    parameters: int
    kit_files: list[Path]


def next_version(model_path: Path) -> int:
    """One more than the highest integer-named entry under ``model_path``."""
    if not model_path.is_dir():
        return 1
    numbers = [int(p.name) for p in model_path.iterdir() if is_version_name(p.name)]
    return max(numbers, default=0) + 1


def set_method_names(export_dir: Path, methods: dict[str, str]) -> None:
    """Sets SignatureDef ``method_name``s (TF2 saving writes Predict for all).

    TF Serving's Classify/Regress APIs only accept signatures whose method is
    ``tensorflow/serving/classify`` / ``regress``. The fingerprint is
    rewritten to match the edited ``saved_model.pb``.
    """
    if not methods:
        return
    path = export_dir / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    for meta_graph in saved_model.meta_graphs:
        for signature, method in methods.items():
            meta_graph.signature_def[signature].method_name = method
    write_bytes_atomically(path, saved_model.SerializeToString())
    fingerprinting_utils.write_fingerprint(str(export_dir))


def _check_text_model_settings(
    model: TextTaskModel, tokenizer: Tokenizer | None, options: ExportOptions
) -> None:
    """Raises ValueError where ``tokenizer``/``options`` contradict ``model``."""
    if tokenizer is not None and tokenizer_config(tokenizer) != tokenizer_config(
        model.tokenizer
    ):
        raise ValueError(
            "The tokenizer differs from the TextTaskModel's own; export it "
            "without one (tokenizer=None)."
        )
    length = options.sequence_length
    if length is not None and length != model.sequence_length:
        raise ValueError(
            f"sequence_length {length} differs from the TextTaskModel's "
            f"{model.sequence_length}."
        )
    if options.labels is not None and list(options.labels) != model.labels:
        raise ValueError(
            f"labels {options.labels} differ from the TextTaskModel's {model.labels}."
        )


def serving_module(
    model: keras.Model, tokenizer: Tokenizer | None, options: ExportOptions
) -> ServingModule:
    """The ``ServingModule`` an export with ``options`` saves.

    A ``TextTaskModel`` gives a ``TextTaskServingModule`` (``tokenizer`` may
    be None); other models need ``tokenizer``.

    Raises:
        ValueError: a missing tokenizer, or settings contradicting a
            ``TextTaskModel``'s.
    """
    if isinstance(model, TextTaskModel):
        _check_text_model_settings(model, tokenizer, options)
        return TextTaskServingModule(model)
    if tokenizer is None:
        raise ValueError(
            f"Exporting a {type(model).__name__} needs its tokenizer (only a "
            "TextTaskModel brings its own)."
        )
    return ServingModule(
        model,
        tokenizer,
        sequence_length=options.sequence_length or DEFAULT_SEQUENCE_LENGTH,
        top_k=options.top_k,
        max_predictions=options.max_predictions,
        labels=options.labels,
    )


def verify_with_model_server_loader(version_dir: Path, model_name: str) -> int:
    """Loads ``version_dir`` as TF Serving does and replays its warmup requests.

    Returns the number of warmup requests run.

    Raises:
        tf.errors.OpError / ServingError: what TF Serving would report.
    """
    servable = Servable(model_name, 0, version_dir)
    try:
        return InferenceEngine(ModelManager([])).warm_up(servable)
    finally:
        servable.unload()


def export_for_serving(
    model: keras.Model,
    tokenizer: Tokenizer | None = None,
    model_path: str | Path | None = None,
    options: ExportOptions | None = None,
    version: int | None = None,
    progress: Callable[[str], None] = logger.info,
) -> ExportResult:
    """Writes ``model`` + ``tokenizer`` as ``model_path/<version>``.

    Args:
        model: an Encoder or a task model (see ``serving.heads``), or a
            ``TextTaskModel`` (see ``serving.text_task_signatures``).
        tokenizer: an in-graph kerasbert tokenizer matching the model; None
            (or the model's own) for a ``TextTaskModel``.
        model_path: ``BASE/NAME``; created if missing (required).
        options: export settings.
        version: explicit version number; default the next free one.
        progress: receives one line per step.

    Raises:
        FileExistsError: ``version`` already exists.
        ValueError / TypeError: a model the exporter cannot serve, a missing
            tokenizer, settings contradicting a ``TextTaskModel``'s.
    """
    if model_path is None:
        raise TypeError("export_for_serving needs model_path (BASE/NAME).")
    options = options or ExportOptions()
    model_path = Path(model_path)
    model_path.mkdir(parents=True, exist_ok=True)
    version = next_version(model_path) if version is None else version
    target = model_path / str(version)
    if target.exists():
        raise FileExistsError(f"Version directory {target} already exists.")

    module = serving_module(model, tokenizer, options)
    progress(f"Tracing signatures of {type(model).__name__} ...")
    functions = module.signatures()
    signatures = {
        name: sorted(function.structured_outputs)
        for name, function in functions.items()
    }
    temporary = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_path))
    temporary.chmod(0o755)  # mkdtemp's 0700 would hide the version from others
    try:
        progress(f"Saving SavedModel to {temporary} ...")
        tf.saved_model.save(module, str(temporary), signatures=functions)
        set_method_names(temporary, module.method_names())
        logs = warmup_logs(module, model_path.name)
        write_warmup_file(temporary, logs)
        replayed = verify_with_model_server_loader(temporary, model_path.name)
        progress(
            f"Verified with the C++ SavedModel loader: {replayed} warmup requests run"
        )
        os.rename(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    squad = isinstance(module, TextTaskServingModule) and module.task == "squad"
    instance = QUESTION_INSTANCE if squad else TEXT_INSTANCE
    kit = write_kit(
        model_path, signatures, module.sequence_length, options.batching, instance
    )
    progress(f"Exported version {version} to {target}; kit in {model_path}")
    return ExportResult(
        version=version,
        path=target,
        signatures=signatures,
        parameters=model.count_params(),
        kit_files=kit,
    )
