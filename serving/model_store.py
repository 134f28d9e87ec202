"""Loads the newest SavedModel version under a base path and keeps it current.

TF Serving's layout: ``BASE/NAME/<integer version>/saved_model.pb``. The store
serves the highest version, polls the base path, and on a new version loads it
completely (including the warmup requests in ``assets.extra``) before swapping
it in, so requests never see a half-loaded model. Requests already running
on the old version finish on it; its batchers drain before they stop.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import grpc
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graphs use)
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import prediction_log_pb2

from serving.batching import Arrays, DynamicBatcher
from serving.constants import DEFAULT_SIGNATURE, WARMUP_FILE
from serving.errors import ServingError, not_found
from serving.tensors import serialized_examples, to_ndarrays

logger = logging.getLogger("serving")

INIT_OP_SIGNATURE = "__saved_model_init_op"


@dataclass(frozen=True)
class BatchingConfig:
    """Dynamic batching settings (TF Serving's ``batching_parameters``)."""

    max_batch_size: int = 32
    timeout_s: float = 0.002
    num_threads: int = 2


def list_versions(model_path: Path) -> list[int]:
    """Complete version numbers under ``model_path``, ascending.

    Only integer-named directories holding ``saved_model.pb`` count, so the
    temporary directories an export writes into are never picked up.
    """
    if not model_path.is_dir():
        return []
    return sorted(
        int(child.name)
        for child in model_path.iterdir()
        if child.name.isdigit() and (child / "saved_model.pb").is_file()
    )


def read_signature_defs(version_path: Path) -> dict[str, meta_graph_pb2.SignatureDef]:
    """The callable SignatureDefs of a SavedModel, as stored in saved_model.pb."""
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((version_path / "saved_model.pb").read_bytes())
    signatures = saved_model.meta_graphs[0].signature_def
    return {
        name: signatures[name]
        for name in sorted(signatures)
        if name != INIT_OP_SIGNATURE
    }


class LoadedVersion:
    """One loaded SavedModel version: its signatures, callable with numpy."""

    def __init__(self, version: int, path: Path, batching: BatchingConfig | None):
        self.version = version
        self.path = path
        self.signature_defs = read_signature_defs(path)
        self._saved_model = tf.saved_model.load(str(path))
        self._functions = {
            name: self._saved_model.signatures[name] for name in self.signature_defs
        }
        self._batchers = (
            {
                name: DynamicBatcher(
                    lambda inputs, name=name: self._call(name, inputs),
                    batching.max_batch_size,
                    batching.timeout_s,
                    batching.num_threads,
                )
                for name in self.signature_defs
            }
            if batching
            else {}
        )

    def _call(self, signature_name: str, inputs: Arrays) -> Arrays:
        outputs = self._functions[signature_name](
            **{name: tf.constant(value) for name, value in inputs.items()}
        )
        return {name: value.numpy() for name, value in outputs.items()}

    def run(self, signature_name: str, inputs: Arrays) -> Arrays:
        """Runs one signature (through its batcher when batching is on)."""
        if signature_name in self._batchers:
            return self._batchers[signature_name].submit(inputs)
        return self._call(signature_name, inputs)

    def batch_sizes(self) -> dict[str, dict[int, int]]:
        """Per signature: rows per model call -> number of calls (batching on)."""
        return {name: dict(b.batch_sizes) for name, b in self._batchers.items()}

    def warm_up(self) -> int:
        """Replays ``assets.extra/tf_serving_warmup_requests``; returns the count.

        Like TF Serving, this runs before the version is made available, so
        the first real request does not pay for graph initialisation.
        """
        path = self.path / WARMUP_FILE
        if not path.is_file():
            return 0
        count = 0
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            log = prediction_log_pb2.PredictionLog.FromString(record)
            kind = log.WhichOneof("log_type")
            request = getattr(log, kind).request
            signature = request.model_spec.signature_name or DEFAULT_SIGNATURE
            if kind == "predict_log":
                inputs = to_ndarrays(request.inputs)
            else:
                inputs = {"inputs": serialized_examples(request.input)}
            self._call(signature, inputs)
            count += 1
        return count

    def close(self) -> None:
        """Finishes queued batched work; later calls run unbatched."""
        for batcher in self._batchers.values():
            batcher.close()


class ModelStore:
    """Serves the highest version of one model and hot-swaps newer ones.

    Args:
        model_path: ``BASE/NAME``; the model's name is the directory name.
        poll_seconds: how often to look for new versions (0: never).
        batching: dynamic batching settings, or None for none.
    """

    def __init__(
        self,
        model_path: str | Path,
        poll_seconds: float = 1.0,
        batching: BatchingConfig | None = None,
    ):
        self.model_path = Path(model_path)
        if not self.model_path.is_dir():
            raise FileNotFoundError(
                f"Model base path {self.model_path} does not exist."
            )
        self.name = self.model_path.name
        self.poll_seconds = poll_seconds
        self.batching = batching
        self._current: LoadedVersion | None = None
        self._loading: int | None = None
        self._failed: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def refresh(self) -> bool:
        """Loads and swaps in the highest complete version if it is new.

        Returns whether the served version changed. A version that fails to
        load is logged, remembered and skipped; the old one keeps serving.
        """
        target = max(list_versions(self.model_path), default=None)
        current = self._current
        if target is None or target in self._failed:
            return False
        if current is not None and current.version == target:
            return False
        self._loading = target
        try:
            loaded = LoadedVersion(target, self.model_path / str(target), self.batching)
            warmed = loaded.warm_up()
        except Exception:
            logger.exception("Loading %s version %d failed", self.name, target)
            self._failed.add(target)
            return False
        finally:
            self._loading = None
        with self._lock:
            previous, self._current = self._current, loaded
        logger.info(
            "Serving %s version %d (%d warmup requests)", self.name, target, warmed
        )
        if previous is not None:
            previous.close()
        return True

    def start(self) -> None:
        """Loads the current version and starts polling for new ones.

        Raises:
            RuntimeError: the newest version exists but cannot be loaded.
        """
        self.refresh()
        if self._current is None and self._failed:
            raise RuntimeError(
                f"Could not load {self.model_path} version {max(self._failed)}; "
                "the log above says why."
            )
        if self.poll_seconds > 0:
            self._poller = threading.Thread(
                target=self._poll, name="version-poller", daemon=True
            )
            self._poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception:  # a broken file system must not kill polling
                logger.exception("Polling %s failed", self.model_path)

    def stop(self) -> None:
        """Stops polling and drains the served version's batchers."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
        if self._current is not None:
            self._current.close()

    def get(self, name: str, version: int | None = None) -> LoadedVersion:
        """The served version of model ``name`` (checked against ``version``).

        Raises:
            ServingError: NOT_FOUND for another model or version,
                UNAVAILABLE while no version has loaded yet.
        """
        if name != self.name:
            raise not_found(
                f"Servable not found for request: model {name!r} "
                f"(this server serves {self.name!r})."
            )
        current = self._current
        if current is None:
            raise ServingError(
                grpc.StatusCode.UNAVAILABLE,
                f"No version of {self.name!r} has loaded yet from {self.model_path}.",
            )
        if version is not None and version != current.version:
            raise not_found(
                f"Servable not found for request: Specific({self.name}, {version}); "
                f"available version: {current.version}."
            )
        return current

    def states(self) -> dict[int, str]:
        """Version -> ``AVAILABLE`` / ``LOADING``, as GetModelStatus reports."""
        states = {}
        if self._current is not None:
            states[self._current.version] = "AVAILABLE"
        if self._loading is not None:
            states[self._loading] = "LOADING"
        return states
