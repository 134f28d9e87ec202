"""One loaded model version: its C++ session, batchers and in-flight count.

A ``Servable`` is what TF Serving calls a servable: version V of model M,
loaded with the C++ ``LoadSavedModel`` (``serving.saved_model_session``)
and run by SignatureDef tensor names. With batching on, concurrent runs of
the same signature and outputs are merged into one ``Session::Run`` (TF
Serving's batching session); a batch that fails is rerun request by request,
so one client's bad request fails only that client and no other client sees
its error or its values.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from serving.batching import Arrays, DynamicBatcher
from serving.config_files import BatchingParameters
from serving.saved_model_session import SavedModelSession


class Servable:
    """Version ``version`` of model ``name``, loaded from ``path``.

    Args:
        name, version, path: what is loaded, from where.
        batching: batch concurrent runs (TF Serving's ``--enable_batching``
            with these ``batching_parameters``), or None.

    Raises:
        tf.errors.OpError: the C++ loader's error.
    """

    def __init__(
        self,
        name: str,
        version: int,
        path: Path,
        batching: BatchingParameters | None = None,
    ):
        self.name = name
        self.version = version
        self.path = path
        self.session = SavedModelSession(path)
        self.signature_defs = self.session.signature_defs
        self._batching = batching
        self._batchers: dict[tuple[str, tuple[str, ...]], DynamicBatcher] = {}
        self._lock = threading.Lock()
        self._users = 0
        self._idle = threading.Condition(self._lock)

    def _session_run(
        self, signature_name: str, output_names: tuple[str, ...], inputs: Arrays
    ) -> Arrays:
        return self.session.run(signature_name, inputs, output_names)

    def _batcher(
        self, signature_name: str, output_names: tuple[str, ...]
    ) -> DynamicBatcher:
        key = (signature_name, output_names)
        with self._lock:
            batcher = self._batchers.get(key)
            if batcher is None:
                batching = self._batching
                batcher = DynamicBatcher(
                    lambda inputs: self._session_run(
                        signature_name, output_names, inputs
                    ),
                    batching.max_batch_size,
                    batching.batch_timeout_micros / 1e6,
                    batching.num_batch_threads,
                    max_enqueued_batches=batching.max_enqueued_batches,
                )
                self._batchers[key] = batcher
            return batcher

    def run(
        self, signature_name: str, inputs: Arrays, output_names: Iterable[str]
    ) -> Arrays:
        """Runs a signature, through its batcher when batching is on.

        Inputs must already be checked (``serving.inference``): every input
        of the signature, each with the batch as its first axis.
        """
        output_names = tuple(output_names)
        if self._batching is None:
            return self._session_run(signature_name, output_names, inputs)
        return self._batcher(signature_name, output_names).submit(inputs)

    def batch_sizes(self) -> dict[str, dict[int, int]]:
        """Per signature: rows per session run -> number of runs (batching on)."""
        sizes: dict[str, dict[int, int]] = {}
        with self._lock:
            batchers = dict(self._batchers)
        for (signature_name, _), batcher in batchers.items():
            merged = sizes.setdefault(signature_name, {})
            for rows, count in batcher.batch_sizes.items():
                merged[rows] = merged.get(rows, 0) + count
        return sizes

    def acquire(self) -> None:
        """Marks one request as using this servable (see ``release``)."""
        with self._lock:
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            self._idle.notify_all()

    def unload(self) -> None:
        """Waits for the requests using it, drains the batchers, closes."""
        with self._lock:
            while self._users:
                self._idle.wait()
            batchers = list(self._batchers.values())
        for batcher in batchers:
            batcher.close()
        self.session.close()
