"""Server-side dynamic batching: concurrent requests share one model call.

Each request is a dict of arrays whose first axis is the batch. A worker
thread takes the oldest queued request, keeps collecting requests with the
same non-batch shapes until ``max_batch_size`` rows or ``timeout_s`` pass,
runs the model once on the concatenation and hands each caller its rows.
Under concurrency this turns many batch-1 calls into a few large ones, which
is where matrix kernels are efficient.

A merged call that fails is rerun request by request, so each request gets
the answer or the error it would have had alone: one client's bad request
never fails, or reveals its data to, the clients it was batched with.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import grpc
import numpy as np

from serving.errors import ServingError

Arrays = dict[str, np.ndarray]
_STOP = object()


@dataclass
class _Task:
    inputs: Arrays
    rows: int
    future: Future = field(default_factory=Future)

    @property
    def key(self) -> tuple:
        """Tasks batch together only if every input agrees past axis 0."""
        return tuple(
            (name, array.shape[1:], array.dtype.str)
            for name, array in sorted(self.inputs.items())
        )


class DynamicBatcher:
    """Merges concurrent ``submit`` calls into batched calls of ``run``.

    Args:
        run: the model call, ``{name: [rows, ...]} -> {name: [rows, ...]}``;
            every output must have the batch as its first axis.
        max_batch_size: most rows in one call. A single request larger than
            this runs on its own (callers should reject such requests).
        timeout_s: how long the oldest request waits for company.
        num_threads: workers forming and running batches; with more than one,
            the next batch runs while the previous one is still computing
            (TF Serving's ``num_batch_threads``).
        max_enqueued_batches: queued work beyond this many full batches is
            refused with UNAVAILABLE (TF Serving's ``max_enqueued_batches``),
            so overload sheds requests instead of growing the queue.
    """

    def __init__(
        self,
        run: Callable[[Arrays], Arrays],
        max_batch_size: int,
        timeout_s: float,
        num_threads: int = 1,
        max_enqueued_batches: int = 1_000_000,
    ):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}.")
        if timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0, got {timeout_s}.")
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}.")
        self._run = run
        self.max_batch_size = max_batch_size
        self.timeout_s = timeout_s
        self._max_queued_rows = max_enqueued_batches * max_batch_size
        self._queued_rows = 0
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self.batch_sizes: Counter[int] = Counter()  # rows per call -> calls
        self._threads = [
            threading.Thread(target=self._loop, name="dynamic-batcher", daemon=True)
            for _ in range(num_threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, inputs: Arrays) -> Arrays:
        """Runs ``inputs`` (possibly batched with others); blocks for the result.

        After ``close`` requests still succeed: they run unbatched, so a
        request racing a model swap is never dropped.
        """
        task = _Task(inputs, rows=len(next(iter(inputs.values()))))
        with self._lock:
            queued = not self._closed
            if queued:
                if self._queued_rows + task.rows > self._max_queued_rows:
                    raise ServingError(
                        grpc.StatusCode.UNAVAILABLE,
                        "The batch scheduling queue to which this task was "
                        "submitted is full.",
                    )
                self._queued_rows += task.rows
                self._queue.put(task)
        if not queued:
            return self._run(inputs)
        return task.future.result()

    def close(self, timeout_s: float | None = None) -> None:
        """Stops accepting work, finishes everything queued, ends the workers."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for _ in self._threads:  # one stop marker per worker, after the work
                self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout_s)

    def _loop(self) -> None:
        carry: _Task | None = None
        stopping = False
        while carry is not None or not stopping:
            first = carry if carry is not None else self._queue.get()
            carry = None
            if first is _STOP:
                stopping = True
                continue
            batch, rows = [first], first.rows
            deadline = time.monotonic() + self.timeout_s
            while rows < self.max_batch_size and not stopping:
                try:
                    task = self._queue.get(
                        timeout=max(0.0, deadline - time.monotonic())
                    )
                except queue.Empty:
                    break
                if task is _STOP:
                    stopping = True
                elif task.key != first.key or rows + task.rows > self.max_batch_size:
                    carry = task
                    break
                else:
                    batch.append(task)
                    rows += task.rows
            self._execute(batch, rows)

    def _execute(self, batch: list[_Task], rows: int) -> None:
        with self._lock:
            self.batch_sizes[rows] += 1
            self._queued_rows -= rows
        if len(batch) == 1:
            self._run_alone(batch[0])
            return
        try:
            merged = {
                name: np.concatenate([task.inputs[name] for task in batch])
                for name in batch[0].inputs
            }
            outputs = self._run(merged)
            for name, value in outputs.items():
                if np.ndim(value) == 0 or len(value) != rows:
                    raise ValueError(
                        f"Output {name!r} has no batch axis of {rows} rows; "
                        "it cannot be split between batched requests."
                    )
        except Exception:  # noqa: BLE001 (rerun alone: each gets its own answer)
            for task in batch:
                self._run_alone(task)
            return
        bounds = np.cumsum([0] + [task.rows for task in batch])
        for task, start, stop in zip(batch, bounds[:-1], bounds[1:], strict=True):
            task.future.set_result(
                {name: value[start:stop] for name, value in outputs.items()}
            )

    def _run_alone(self, task: _Task) -> None:
        try:
            task.future.set_result(self._run(task.inputs))
        except Exception as error:  # the caller hears about its own failure
            task.future.set_exception(error)
