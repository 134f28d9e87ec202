"""TF Serving's config files, read and written in its own text-proto formats.

* ``--model_config_file``: ``ModelServerConfig`` (``model_config_list``) ->
  ``ModelConfig`` with its ``VersionPolicy`` and version labels.
* ``--batching_parameters_file``: ``BatchingParameters``, with the defaults TF
  Serving's batch scheduler applies to unset fields.
* ``--monitoring_config_file``: ``MonitoringConfig`` (Prometheus endpoint).
* ``--ssl_config_file``: ``SslConfig`` (gRPC TLS).

Every file is parsed by protobuf's own text-format parser into the real
message type, as ``tensorflow_model_server`` does with ``TextFormat``, so
unknown or misspelled fields, bad values and repeated singular fields are
errors exactly as there. ``tensorflow-serving-api`` ships
``model_server_config_pb2`` but not the batching, monitoring or SSL messages;
those are declared here field for field from TF Serving's ``.proto`` files
(``session_bundle_config.proto``, ``monitoring_config.proto``,
``ssl_config.proto``) in a private descriptor pool. Content errors raise
``ValueError`` naming the file and what is wrong; a missing file raises
``OSError``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Literal, TypeVar

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message,
    message_factory,
    text_format,
    wrappers_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

# PrometheusExporter::kPrometheusPath, served when PrometheusConfig.path is
# empty (tensorflow_serving/util/prometheus_exporter.cc, http_server.cc).
PROMETHEUS_PATH = "/monitoring/prometheus/metrics"

# kTensorFlowModelPlatform (model_platform_types.h): the platform of SavedModels.
TENSORFLOW_PLATFORM = "tensorflow"

PolicyKind = Literal["latest", "all", "specific"]
Message = TypeVar("Message", bound=message.Message)


def _invalid(path: Path, problem: str) -> ValueError:
    """The error for a config file whose content TF Serving would refuse."""
    return ValueError(f"{path}: {problem}")


def _parse(path: Path, proto: Message) -> Message:
    """Parses ``path`` into ``proto`` with protobuf's text-format parser."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise _invalid(path, f"not UTF-8 text ({error})") from None
    try:
        text_format.Parse(text, proto)
    except text_format.ParseError as error:
        kind = proto.DESCRIPTOR.full_name
        raise _invalid(path, f"invalid {kind} text proto: {error}") from None
    return proto


# --------------------------------------------------------------------------
# Model config (--model_config_file)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionPolicy:
    """Which versions of a model to serve (``ServableVersionPolicy``).

    ``latest`` serves the ``num_versions`` highest, ``all`` every version,
    ``specific`` the listed ``versions`` that exist. Without a policy TF
    Serving serves the latest one (file_system_storage_path_source.cc).
    """

    kind: PolicyKind = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("latest", "all", "specific"):
            raise ValueError(f"unknown version policy {self.kind!r}")
        if self.num_versions < 1:
            raise ValueError(f"num_versions must be >= 1; was {self.num_versions}")
        if self.kind == "specific" and not self.versions:
            raise ValueError("the specific version policy lists no versions")
        if self.kind != "specific" and self.versions:
            raise ValueError("versions are only used by the specific policy")

    def select(self, available: Iterable[int]) -> list[int]:
        """The versions to serve among ``available``, ascending."""
        found = sorted(set(available))
        if self.kind == "latest":
            return found[-self.num_versions :]
        if self.kind == "specific":
            return [version for version in found if version in self.versions]
        return found


@dataclass(frozen=True)
class ModelConfig:
    """One ``model_config_list`` entry: a model served from ``base_path``.

    ``base_path`` holds integer-named version directories and is absolute, as
    the model server requires. ``version_labels`` map a label to a version;
    TF Serving only accepts labels of versions that are available, which is
    checked at serving time, not here.
    """

    name: str
    base_path: Path
    version_policy: VersionPolicy = field(default_factory=VersionPolicy)
    version_labels: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("model name is empty")
        if not self.base_path.is_absolute():
            raise ValueError(
                f"base_path {str(self.base_path)!r} is not absolute "
                "(the model server rejects relative base paths)"
            )


def read_model_config_file(
    path: Path | str, root_dir: Path | None = None
) -> list[ModelConfig]:
    """The models of a ``--model_config_file`` (``ModelServerConfig`` text).

    Relative base paths: ``tensorflow_model_server`` rejects them ("Expected
    model NAME to have an absolute path or URI"; server_core.cc
    ValidateModelConfigList), and it never resolves them against the current
    directory. ``ServerCore::Options::model_config_list_root_dir`` is the
    one way to allow them: each is joined onto that absolute directory.
    ``root_dir`` is that option, ``None`` (as in the model server) rejects.

    An empty file is a valid, empty config (TF Serving takes no action).
    ``logging_config`` is accepted and ignored: request logging is not
    imitated. URIs (``gs://``, ``s3://``) are refused: only local
    directories can be served here.
    """
    path = Path(path)
    if root_dir is not None and not root_dir.is_absolute():
        raise ValueError(f"model_config_list_root_dir {root_dir} is not absolute")
    server_config = _parse(path, model_server_config_pb2.ModelServerConfig())
    which = server_config.WhichOneof("config")
    if which is None:
        return []
    if which == "custom_model_config":
        raise _invalid(path, "custom_model_config is not supported by the server")
    entries = server_config.model_config_list.config
    duplicate = _duplicate([entry.name for entry in entries])
    if duplicate is not None:
        raise _invalid(path, f"model {duplicate!r} is listed more than once")
    return [_model_config(path, entry, root_dir) for entry in entries]


def _duplicate(names: list[str]) -> str | None:
    """A name listed twice, which TF Serving refuses ("Illegal to list model
    NAME multiple times in config list"), or ``None``."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _model_config(
    path: Path, entry: model_server_config_pb2.ModelConfig, root_dir: Path | None
) -> ModelConfig:
    """One validated ``ModelConfig`` from its proto."""
    if not entry.name:
        raise _invalid(path, "a model config has an empty name")
    try:
        _check_platform(entry)
        return ModelConfig(
            name=entry.name,
            base_path=_base_path(entry.base_path, root_dir),
            version_policy=_version_policy(entry.model_version_policy),
            version_labels=dict(entry.version_labels),
        )
    except ValueError as error:
        raise _invalid(path, f"model {entry.name}: {error}") from None


def _check_platform(entry: model_server_config_pb2.ModelConfig) -> None:
    """Accepts the TensorFlow platform, named either way.

    Mirrors GetPlatform() in server_core.cc: the deprecated model_type
    TENSORFLOW means "tensorflow"; setting both fields or neither is an error.
    """
    if entry.model_type == model_server_config_pb2.MODEL_TYPE_UNSPECIFIED:
        platform = entry.model_platform
        if not platform:
            raise ValueError("model_platform is not set")
    elif entry.model_platform:
        raise ValueError("both model_type and model_platform are set")
    elif entry.model_type != model_server_config_pb2.TENSORFLOW:
        raise ValueError("model_type OTHER is not supported")
    else:
        platform = TENSORFLOW_PLATFORM
    if platform != TENSORFLOW_PLATFORM:
        raise ValueError(
            f"unsupported model_platform {platform!r} (only {TENSORFLOW_PLATFORM!r})"
        )


_URI_SCHEME = re.compile(r"[A-Za-z][0-9A-Za-z.]*://")  # io::ParseURI's scheme


def _base_path(base_path: str, root_dir: Path | None) -> Path:
    """The model's base directory; relative ones only under ``root_dir``."""
    if not base_path:
        raise ValueError("base_path is empty")
    if _URI_SCHEME.match(base_path):
        raise ValueError(
            f"base_path {base_path!r} is a URI; only local directories can be served"
        )
    base = Path(base_path)
    if base.is_absolute() or root_dir is None:
        return base
    return root_dir / base


def _version_policy(policy: message.Message) -> VersionPolicy:
    """``VersionPolicy`` from a ``ServableVersionPolicy`` proto."""
    which = policy.WhichOneof("policy_choice")
    if which == "all":
        return VersionPolicy("all")
    if which == "specific":
        return VersionPolicy("specific", versions=tuple(policy.specific.versions))
    # Unset or latest; num_versions 0 means 1 (AspireLatestVersions: max(n, 1)).
    return VersionPolicy("latest", num_versions=max(policy.latest.num_versions, 1))


def model_config_text(configs: Iterable[ModelConfig]) -> str:
    """A ``--model_config_file`` serving ``configs`` (read back by the reader)."""
    configs = list(configs)
    duplicate = _duplicate([config.name for config in configs])
    if duplicate is not None:
        raise ValueError(f"model {duplicate!r} is listed more than once")
    server_config = model_server_config_pb2.ModelServerConfig()
    config_list = server_config.model_config_list
    config_list.SetInParent()
    for config in configs:
        entry = config_list.config.add(
            name=config.name,
            base_path=str(config.base_path),
            model_platform=TENSORFLOW_PLATFORM,
        )
        _write_policy(config.version_policy, entry.model_version_policy)
        entry.version_labels.update(config.version_labels)
    return text_format.MessageToString(server_config)


def _write_policy(policy: VersionPolicy, proto: message.Message) -> None:
    """Fills a ``ServableVersionPolicy`` proto from ``policy``."""
    if policy.kind == "latest":
        proto.latest.num_versions = policy.num_versions
    elif policy.kind == "all":
        proto.all.SetInParent()
    else:
        proto.specific.versions.extend(policy.versions)


# --------------------------------------------------------------------------
# Message types tensorflow-serving-api does not ship
# --------------------------------------------------------------------------

_Field = descriptor_pb2.FieldDescriptorProto


def _field(name: str, number: int, kind: int, repeated: bool = False) -> _Field:
    """A scalar field declaration."""
    label = _Field.LABEL_REPEATED if repeated else _Field.LABEL_OPTIONAL
    return _Field(name=name, number=number, type=kind, label=label)


def _message_field(name: str, number: int, type_name: str) -> _Field:
    """A singular field of message type ``type_name`` (fully qualified)."""
    return _Field(
        name=name,
        number=number,
        type=_Field.TYPE_MESSAGE,
        label=_Field.LABEL_OPTIONAL,
        type_name=type_name,
    )


_INT64 = ".google.protobuf.Int64Value"

# tensorflow_serving/servables/tensorflow/session_bundle_config.proto. Only
# BatchingParameters, and only the fields this server implements; any other
# field is rejected as unknown rather than silently ignored. Text format
# names fields, so the numbers below never affect parsing; 8 and 9 are the
# upstream numbers as remembered, not re-checked against the .proto.
_BATCHING_FIELDS = [
    _message_field("max_batch_size", 1, _INT64),
    _message_field("batch_timeout_micros", 2, _INT64),
    _message_field("max_enqueued_batches", 3, _INT64),
    _message_field("num_batch_threads", 4, _INT64),
    _message_field("thread_pool_name", 5, ".google.protobuf.StringValue"),
    _field("allowed_batch_sizes", 6, _Field.TYPE_INT64, repeated=True),
    _field("pad_variable_length_inputs", 7, _Field.TYPE_BOOL),
    _message_field("enable_large_batch_splitting", 8, ".google.protobuf.BoolValue"),
    _message_field("max_execution_batch_size", 9, _INT64),
]

# tensorflow_serving/config/monitoring_config.proto
_PROMETHEUS_FIELDS = [
    _field("enable", 1, _Field.TYPE_BOOL),
    _field("path", 2, _Field.TYPE_STRING),
]
_MONITORING_FIELDS = [
    _message_field("prometheus_config", 1, ".tensorflow.serving.PrometheusConfig")
]

# tensorflow_serving/config/ssl_config.proto
_SSL_FIELDS = [
    _field("server_key", 1, _Field.TYPE_STRING),
    _field("server_cert", 2, _Field.TYPE_STRING),
    _field("custom_ca", 3, _Field.TYPE_STRING),
    _field("client_verify", 4, _Field.TYPE_BOOL),
]


def _proto_file(
    name: str, messages: dict[str, list[_Field]], imports: tuple[str, ...] = ()
) -> descriptor_pb2.FileDescriptorProto:
    """A proto3 file of package ``tensorflow.serving`` declaring ``messages``."""
    proto_file = descriptor_pb2.FileDescriptorProto(
        name=name, package="tensorflow.serving", syntax="proto3", dependency=imports
    )
    for message_name, fields in messages.items():
        proto_file.message_type.add(name=message_name, field=fields)
    return proto_file


def _build_pool() -> descriptor_pool.DescriptorPool:
    """A private pool, so these never clash with generated modules' types."""
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    pool.Add(
        _proto_file(
            "tensorflow_serving/servables/tensorflow/session_bundle_config.proto",
            {"BatchingParameters": _BATCHING_FIELDS},
            imports=(wrappers.name,),
        )
    )
    pool.Add(
        _proto_file(
            "tensorflow_serving/config/monitoring_config.proto",
            {
                "PrometheusConfig": _PROMETHEUS_FIELDS,
                "MonitoringConfig": _MONITORING_FIELDS,
            },
        )
    )
    pool.Add(
        _proto_file(
            "tensorflow_serving/config/ssl_config.proto", {"SSLConfig": _SSL_FIELDS}
        )
    )
    return pool


_POOL = _build_pool()


def _new_message(name: str) -> message.Message:
    """An empty ``tensorflow.serving.<name>`` message from the private pool."""
    descriptor = _POOL.FindMessageTypeByName(f"tensorflow.serving.{name}")
    return message_factory.GetMessageClass(descriptor)()


# --------------------------------------------------------------------------
# Batching parameters (--batching_parameters_file)
# --------------------------------------------------------------------------


def _schedulable_cpus() -> int:
    """port::MaxParallelism(): the CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class BatchingParameters:
    """Server-side batching, with TF Serving's value for every unset field.

    Defaults are those of ``SharedBatchScheduler::QueueOptions``
    (input_batch_size_limit 1000, batch_timeout_micros 0,
    max_enqueued_batches 10) and ``SharedBatchScheduler::Options``
    (thread_pool_name "batch_threads", num_batch_threads
    port::MaxParallelism()) in tensorflow/core/kernels/batching_util/
    shared_batch_scheduler.h, which bundle_factory_util.h fills from the
    proto's set fields only. ``max_execution_batch_size`` matters only with
    ``enable_large_batch_splitting``; unset, it is ``max_batch_size``.
    """

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = field(default_factory=_schedulable_cpus)
    thread_pool_name: str = "batch_threads"
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False
    enable_large_batch_splitting: bool = False
    max_execution_batch_size: int | None = None

    def __post_init__(self) -> None:
        _check_positive("max_batch_size", self.max_batch_size)
        if self.batch_timeout_micros < 0:
            raise ValueError(
                "batch_timeout_micros must be non-negative; "
                f"was {self.batch_timeout_micros}"
            )
        _check_positive("max_enqueued_batches", self.max_enqueued_batches)
        _check_positive("num_batch_threads", self.num_batch_threads)
        if self.enable_large_batch_splitting:
            _check_positive("max_execution_batch_size", self.execution_batch_size)
            if self.execution_batch_size > self.max_batch_size:
                raise ValueError(
                    "with enable_large_batch_splitting, max_batch_size "
                    f"({self.max_batch_size}) must be >= max_execution_batch_size "
                    f"({self.execution_batch_size})"
                )
        _check_allowed_sizes(self.allowed_batch_sizes, self.execution_batch_size)

    @property
    def execution_batch_size(self) -> int:
        """The largest batch the model runs (Queue::GetMaxExecutionBatchSize)."""
        if self.enable_large_batch_splitting and self.max_execution_batch_size:
            return self.max_execution_batch_size
        return self.max_batch_size


def _check_positive(name: str, value: int) -> None:
    """The scheduler's "NAME must be positive; was VALUE" check."""
    if value < 1:
        raise ValueError(f"{name} must be positive; was {value}")


def _check_allowed_sizes(sizes: tuple[int, ...], largest: int) -> None:
    """Increasing, ending at the largest batch (batching_session.cc)."""
    if not sizes:
        return
    if sizes[0] < 1 or any(b <= a for a, b in pairwise(sizes)):
        raise ValueError(
            f"allowed_batch_sizes {list(sizes)} must be positive and increasing"
        )
    if sizes[-1] != largest:
        raise ValueError(
            f"the last allowed_batch_sizes entry ({sizes[-1]}) must equal the "
            f"maximum batch size ({largest})"
        )


# What an export's kit writes to batching_parameters for the server to read:
# small batches, a 2 ms window, two threads.
EXPORT_BATCHING = BatchingParameters(
    max_batch_size=32,
    batch_timeout_micros=2000,
    max_enqueued_batches=100,
    num_batch_threads=2,
)


# The BatchingParameters fields that are wrapper messages (set or unset).
_WRAPPED = (
    "max_batch_size",
    "batch_timeout_micros",
    "max_enqueued_batches",
    "num_batch_threads",
    "thread_pool_name",
    "enable_large_batch_splitting",
    "max_execution_batch_size",
)


def read_batching_parameters(path: Path | str) -> BatchingParameters:
    """The ``--batching_parameters_file`` at ``path`` (``BatchingParameters``).

    A ``max_enqueued_batches`` of 0 becomes 1 without large batch splitting,
    as SharedBatchScheduler::AddQueue rewrites it for old models.
    """
    path = Path(path)
    proto = _parse(path, _new_message("BatchingParameters"))
    values = {
        name: getattr(proto, name).value for name in _WRAPPED if proto.HasField(name)
    }
    splitting = values.get("enable_large_batch_splitting", False)
    if values.get("max_enqueued_batches") == 0 and not splitting:
        values["max_enqueued_batches"] = 1
    try:
        return BatchingParameters(
            **values,
            allowed_batch_sizes=tuple(proto.allowed_batch_sizes),
            pad_variable_length_inputs=proto.pad_variable_length_inputs,
        )
    except ValueError as error:
        raise _invalid(path, str(error)) from None


def batching_parameters_text(params: BatchingParameters) -> str:
    """A ``--batching_parameters_file`` for ``params``.

    Every numeric field and the thread pool name are written, so the file
    means the same on any machine (the unset num_batch_threads default
    depends on its CPU count); splitting fields only when splitting is on.
    """
    proto = _new_message("BatchingParameters")
    for name, value in _wrapped_values(params).items():
        getattr(proto, name).value = value
    proto.allowed_batch_sizes.extend(params.allowed_batch_sizes)
    proto.pad_variable_length_inputs = params.pad_variable_length_inputs
    return text_format.MessageToString(proto)


def _wrapped_values(params: BatchingParameters) -> dict[str, int | str | bool]:
    """The wrapper fields to write: all but unused splitting settings."""
    values = {name: getattr(params, name) for name in _WRAPPED}
    if not params.enable_large_batch_splitting:
        del values["enable_large_batch_splitting"]
    return {name: value for name, value in values.items() if value is not None}


# --------------------------------------------------------------------------
# Monitoring config (--monitoring_config_file)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MonitoringConfig:
    """Whether, and where, the HTTP port serves Prometheus metrics."""

    prometheus_enabled: bool = False
    prometheus_path: str = PROMETHEUS_PATH

    def __post_init__(self) -> None:
        if not self.prometheus_path.startswith("/"):
            raise ValueError(
                f"prometheus path {self.prometheus_path!r} must start with '/' "
                "(it is matched against the request path)"
            )


def read_monitoring_config(path: Path | str) -> MonitoringConfig:
    """The ``--monitoring_config_file`` at ``path``; an empty path is the default."""
    path = Path(path)
    prometheus = _parse(path, _new_message("MonitoringConfig")).prometheus_config
    try:
        return MonitoringConfig(
            prometheus_enabled=prometheus.enable,
            prometheus_path=prometheus.path or PROMETHEUS_PATH,
        )
    except ValueError as error:
        raise _invalid(path, str(error)) from None


def monitoring_config_text(config: MonitoringConfig) -> str:
    """A ``--monitoring_config_file`` for ``config``."""
    proto = _new_message("MonitoringConfig")
    proto.prometheus_config.enable = config.prometheus_enabled
    proto.prometheus_config.path = config.prometheus_path
    return text_format.MessageToString(proto)


# --------------------------------------------------------------------------
# SSL config (--ssl_config_file)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SslConfig:
    """gRPC TLS settings. The fields hold PEM text, not file names.

    TF Serving hands ``server_key``/``server_cert`` to gRPC as the key pair,
    ``custom_ca`` (if any) as the root certificates, and with
    ``client_verify`` requires and verifies client certificates.
    """

    server_key: str
    server_cert: str
    custom_ca: str = ""
    client_verify: bool = False

    def __post_init__(self) -> None:
        for name in ("server_key", "server_cert"):
            if "-----BEGIN" not in getattr(self, name):
                raise ValueError(f"{name} is not PEM text (it holds the PEM itself)")


def read_ssl_config(path: Path | str) -> SslConfig:
    """The ``--ssl_config_file`` at ``path`` (``SSLConfig`` text proto)."""
    path = Path(path)
    proto = _parse(path, _new_message("SSLConfig"))
    try:
        return SslConfig(
            server_key=proto.server_key,
            server_cert=proto.server_cert,
            custom_ca=proto.custom_ca,
            client_verify=proto.client_verify,
        )
    except ValueError as error:
        raise _invalid(path, str(error)) from None
