"""Prometheus metrics under the names and labels TF Serving exports.

``Metrics.render()`` is the page TF Serving serves at its Prometheus path
(``monitoring.config``): the text exposition format 0.0.4 as written by
tensorflow_serving/util/prometheus_exporter.cc, i.e. a ``# TYPE`` line per
metric, then ``name{label="value",...} value`` samples; histograms as
cumulative ``name_bucket{...,le="..."}`` lines ending at ``le="+Inf"``, then
``name_sum`` and ``name_count``. TF metric names become Prometheus names by
turning every character outside ``[A-Za-z0-9_]`` into ``:``, so
``/tensorflow/serving/request_count`` is ``:tensorflow:serving:request_count``.

The metrics (all durations in microseconds, as TF records them):

* ``:tensorflow:serving:request_count{model_name,status}``: counter per
  request and final status code name ("OK", "INVALID_ARGUMENT", ...).
* ``:tensorflow:serving:request_latency{model_name,API,entrypoint}``:
  histogram of successful requests' wall time, buckets
  ``Exponential(10, 1.8, 33)`` (10 us to ~25 min). TF Serving uses API
  "Predict", "Classify", "Regress", ... and entrypoint "GRPC" or "REST".
  (tensorflow_serving/servables/tensorflow/util.cc)
* ``:tensorflow:cc:saved_model:load_attempt_count{model_path,status}``:
  counter of SavedModel loads, status "success" or "fail".
* ``:tensorflow:cc:saved_model:load_latency{model_path}``: counter of the
  microseconds spent in successful loads. (tensorflow/cc/saved_model/loader.cc)
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import pairwise

# TF Serving answers the Prometheus path with this header (http_server.cc);
# Prometheus reads text/plain as exposition format 0.0.4.
CONTENT_TYPE = "text/plain"

REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
LOAD_ATTEMPT_COUNT = ":tensorflow:cc:saved_model:load_attempt_count"
LOAD_LATENCY = ":tensorflow:cc:saved_model:load_latency"

# Canonical status code names, as error::Code_Name() labels request_count.
STATUS_CODES = frozenset(
    {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    }
)
LOAD_STATUSES = frozenset({"success", "fail"})

Labels = tuple[str, ...]


def exponential_buckets(scale: float, growth: float, count: int) -> tuple[float, ...]:
    """Bucket limits ``scale * growth**i`` for ``i < count``, computed by
    repeated multiplication like monitoring::Buckets::Exponential."""
    limits = []
    bound = scale
    for _ in range(count):
        limits.append(bound)
        bound *= growth
    return tuple(limits)


# request_latency's buckets in TF Serving: scale 10, power 1.8, 33 buckets.
LATENCY_BUCKETS_US = exponential_buckets(10, 1.8, 33)


def _label_value(value: str) -> str:
    """A label value escaped for the exposition format (\\, " and newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _label_set(names: Labels, values: Labels, extra: str = "") -> str:
    """``{name="value",...}`` with ``extra`` (already formatted) appended."""
    pairs = [f'{n}="{_label_value(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}"


def _bucket_limit(limit: float) -> str:
    """A bucket limit as TF Serving prints it (absl::StrCat: 6 significant
    digits), so ``le`` values match the real server's."""
    return format(limit, ".6g")


@dataclass(eq=False)
class Counter:
    """A monotonic integer count per label-value tuple; thread-safe."""

    name: str
    label_names: Labels
    _values: dict[Labels, int] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def increment(self, labels: Labels, by: int = 1) -> None:
        """Adds ``by`` (>= 0) to the series ``labels``."""
        if by < 0:
            raise ValueError(f"{self.name}: a counter cannot decrease (by={by})")
        with self._lock:
            self._values[labels] = self._values.get(labels, 0) + by

    def lines(self) -> list[str]:
        """The ``# TYPE`` line and one sample line per series."""
        with self._lock:
            values = sorted(self._values.items())
        return [f"# TYPE {self.name} counter"] + [
            f"{self.name}{_label_set(self.label_names, labels)} {value}"
            for labels, value in values
        ]


@dataclass
class _Series:
    """One histogram series: per-bucket (non-cumulative) counts and the sum."""

    buckets: list[int]
    total: int = 0


@dataclass(eq=False)
class Histogram:
    """Integer observations counted into fixed buckets; thread-safe.

    Bucket ``i`` holds values ``<= limits[i]`` (Prometheus' inclusive ``le``;
    TF's own sampler counts a value equal to a limit in the next bucket).
    A last ``+Inf`` bucket takes everything above the limits. Limits are
    rounded to the 6 significant digits ``le`` shows, so every value is
    counted under exactly the bounds printed.
    """

    name: str
    label_names: Labels
    limits: tuple[float, ...]
    _series: dict[Labels, _Series] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.limits = tuple(float(_bucket_limit(limit)) for limit in self.limits)
        if not self.limits or any(b <= a for a, b in pairwise(self.limits)):
            raise ValueError(f"{self.name}: bucket limits must be increasing")

    def observe(self, labels: Labels, value: int) -> None:
        """Counts ``value`` in the series ``labels``."""
        index = bisect_left(self.limits, value)
        with self._lock:
            series = self._series.get(labels)
            if series is None:
                series = self._series[labels] = _Series([0] * (len(self.limits) + 1))
            series.buckets[index] += 1
            series.total += value

    def lines(self) -> list[str]:
        """``# TYPE``, then per series its cumulative buckets, sum and count."""
        with self._lock:
            snapshot = sorted(
                (labels, list(s.buckets), s.total) for labels, s in self._series.items()
            )
        lines = [f"# TYPE {self.name} histogram"]
        for labels, buckets, total in snapshot:
            lines += self._series_lines(labels, buckets, total)
        return lines

    def _series_lines(
        self, labels: Labels, buckets: list[int], total: int
    ) -> list[str]:
        """One series' ``_bucket`` lines (cumulative), ``_sum`` and ``_count``."""
        bounds = [_bucket_limit(limit) for limit in self.limits] + ["+Inf"]
        lines = []
        cumulative = 0
        for bound, count in zip(bounds, buckets, strict=True):
            cumulative += count
            label_set = _label_set(self.label_names, labels, f'le="{bound}"')
            lines.append(f"{self.name}_bucket{label_set} {cumulative}")
        label_set = _label_set(self.label_names, labels)
        lines.append(f"{self.name}_sum{label_set} {total}")
        lines.append(f"{self.name}_count{label_set} {cumulative}")
        return lines


def _microseconds(seconds: float) -> int:
    """A duration in whole microseconds, the unit TF records latencies in."""
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative; was {seconds}")
    return round(seconds * 1e6)


class Metrics:
    """The server's metrics registry: what requests and loads report into."""

    def __init__(self) -> None:
        self.request_count = Counter(REQUEST_COUNT, ("model_name", "status"))
        self.request_latency = Histogram(
            REQUEST_LATENCY, ("model_name", "API", "entrypoint"), LATENCY_BUCKETS_US
        )
        self.load_attempt_count = Counter(LOAD_ATTEMPT_COUNT, ("model_path", "status"))
        self.load_latency = Counter(LOAD_LATENCY, ("model_path",))

    def count_request(
        self, model_name: str, api: str, entrypoint: str, status: str, latency_s: float
    ) -> None:
        """Counts one finished request under its status code name.

        Like TF Serving, only successful requests add to ``request_latency``.
        """
        if status not in STATUS_CODES:
            raise ValueError(f"unknown status code name {status!r}")
        latency_us = _microseconds(latency_s)
        self.request_count.increment((model_name, status))
        if status == "OK":
            self.request_latency.observe((model_name, api, entrypoint), latency_us)

    def count_load(
        self, model_path: str, status: str, latency_s: float | None = None
    ) -> None:
        """Counts one SavedModel load attempt ("success" or "fail").

        ``latency_s`` of a successful load adds to ``load_latency``.
        """
        if status not in LOAD_STATUSES:
            raise ValueError(f"load status must be 'success' or 'fail'; was {status!r}")
        self.load_attempt_count.increment((model_path, status))
        if status == "success" and latency_s is not None:
            self.load_latency.increment((model_path,), _microseconds(latency_s))

    def render(self) -> str:
        """The Prometheus page: every metric, newline-terminated lines."""
        lines = (
            self.request_count.lines()
            + self.request_latency.lines()
            + self.load_attempt_count.lines()
            + self.load_latency.lines()
        )
        return "\n".join(lines) + "\n"
