"""TF Serving config files (serving.config_files) and the Prometheus metrics
page (serving.metrics): parsing real TF Serving text protos, TF Serving's
defaults and validation, writers that the readers read back, and the
exposition format parsed back line by line."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from serving.config_files import (
    PROMETHEUS_PATH,
    BatchingParameters,
    ModelConfig,
    MonitoringConfig,
    SslConfig,
    VersionPolicy,
    batching_parameters_text,
    model_config_text,
    monitoring_config_text,
    read_batching_parameters,
    read_model_config_file,
    read_monitoring_config,
    read_ssl_config,
)
from serving.metrics import (
    LATENCY_BUCKETS_US,
    LOAD_ATTEMPT_COUNT,
    LOAD_LATENCY,
    REQUEST_COUNT,
    REQUEST_LATENCY,
    Counter,
    Histogram,
    Metrics,
)


def write(tmp_path: Path, text: str, name: str = "config") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------
# models.config
# --------------------------------------------------------------------------


def model_entry(fields: str) -> str:
    return f"model_config_list {{ config {{ {fields} }} }}"


OK_ENTRY = 'name: "m" base_path: "/m" model_platform: "tensorflow"'


TWO_MODELS = """
# Two models, as in TF Serving's serving_config guide.
model_config_list {
  config {
    name: 'bert'
    base_path: '/models/bert/'
    model_platform: 'tensorflow'
    model_version_policy { latest { num_versions: 2 } }
    version_labels { key: 'stable' value: 3 }
    version_labels { key: 'canary' value: 4 }
  }
  config {
    name: "minilm"
    base_path: "/models/minilm"
    model_platform: "tensorflow"
    model_version_policy {
      specific {
        versions: 1
        versions: 7
      }
    }
  }
}
"""


def test_model_config_file_with_two_models(tmp_path):
    bert, minilm = read_model_config_file(write(tmp_path, TWO_MODELS))

    assert bert == ModelConfig(
        name="bert",
        base_path=Path("/models/bert"),
        version_policy=VersionPolicy("latest", num_versions=2),
        version_labels={"stable": 3, "canary": 4},
    )
    assert minilm.name == "minilm"
    assert minilm.base_path == Path("/models/minilm")
    assert minilm.version_policy == VersionPolicy("specific", versions=(1, 7))
    assert minilm.version_labels == {}


@pytest.mark.parametrize(
    ("policy_text", "expected"),
    [
        ("", VersionPolicy("latest", num_versions=1)),
        ("model_version_policy { latest { } }", VersionPolicy("latest", 1)),
        (
            "model_version_policy { latest { num_versions: 3 } }",
            VersionPolicy("latest", 3),
        ),
        ("model_version_policy { all { } }", VersionPolicy("all")),
        (
            "model_version_policy { specific { versions: 5 } }",
            VersionPolicy("specific", versions=(5,)),
        ),
    ],
)
def test_version_policy_kinds_and_default(tmp_path, policy_text, expected):
    text = f"""model_config_list {{ config {{
        name: "m" base_path: "/m" model_platform: "tensorflow" {policy_text} }} }}"""
    (config,) = read_model_config_file(write(tmp_path, text))
    assert config.version_policy == expected


def test_version_policy_selects_versions_to_serve():
    available = [3, 1, 10, 2]
    assert VersionPolicy("latest").select(available) == [10]
    assert VersionPolicy("latest", num_versions=2).select(available) == [3, 10]
    assert VersionPolicy("latest", num_versions=9).select(available) == [1, 2, 3, 10]
    assert VersionPolicy("all").select(available) == [1, 2, 3, 10]
    assert VersionPolicy("specific", versions=(2, 10, 99)).select(available) == [2, 10]
    assert VersionPolicy("latest").select([]) == []


def test_model_config_text_round_trip(tmp_path):
    configs = [
        ModelConfig(
            "bert",
            Path("/models/bert"),
            VersionPolicy("latest", num_versions=2),
            {"stable": 3, "canary": 4},
        ),
        ModelConfig("all_of_them", Path("/models/x"), VersionPolicy("all")),
        ModelConfig(
            "pinned", tmp_path / "p", VersionPolicy("specific", versions=(2, 5))
        ),
    ]
    text = model_config_text(configs)
    assert 'model_platform: "tensorflow"' in text
    assert read_model_config_file(write(tmp_path, text)) == configs


def test_model_config_text_rejects_duplicate_names():
    config = ModelConfig("m", Path("/m"))
    with pytest.raises(ValueError, match="'m' is listed more than once"):
        model_config_text([config, config])


def test_deprecated_model_type_tensorflow_is_the_tensorflow_platform(tmp_path):
    text = model_entry('name: "m" base_path: "/m" model_type: TENSORFLOW')
    (config,) = read_model_config_file(write(tmp_path, text))
    assert config.name == "m"


def test_empty_model_config_file_serves_nothing(tmp_path):
    assert read_model_config_file(write(tmp_path, "")) == []


def test_relative_base_path_joins_root_dir(tmp_path):
    text = model_entry('name: "m" base_path: "m/v" model_platform: "tensorflow"')
    path = write(tmp_path, text)
    (config,) = read_model_config_file(path, root_dir=tmp_path)
    assert config.base_path == tmp_path / "m" / "v"
    with pytest.raises(ValueError, match="not absolute"):
        read_model_config_file(path, root_dir=Path("relative"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("model_config_list { config { name: 'm' ", "invalid tensorflow.serving"),
        (model_entry(OK_ENTRY + ' base_pth: "/x"'), "base_pth"),
        (model_entry(OK_ENTRY + ' name: "again"'), "invalid tensorflow.serving"),
        (
            'custom_model_config { type_url: "type.googleapis.com/x.Config" }',
            "custom_model_config is not supported",
        ),
        (model_entry('name: "m" base_path: "/m" model_platform: "onnx"'), "'onnx'"),
        (model_entry('name: "m" base_path: "/m"'), "model_platform is not set"),
        (model_entry('name: "m" base_path: "/m" model_type: OTHER'), "OTHER"),
        (model_entry(OK_ENTRY + " model_type: TENSORFLOW"), "both model_type"),
        (
            model_entry(f"{OK_ENTRY} }} config {{ {OK_ENTRY}"),
            "'m' is listed more than once",
        ),
        (model_entry('base_path: "/m" model_platform: "tensorflow"'), "empty name"),
        (model_entry('name: "m" model_platform: "tensorflow"'), "base_path is empty"),
        (
            model_entry('name: "m" base_path: "models/m" model_platform: "tensorflow"'),
            "model m: base_path 'models/m' is not absolute",
        ),
        (
            model_entry('name: "m" base_path: "gs://b/m" model_platform: "tensorflow"'),
            "is a URI",
        ),
        (
            model_entry(OK_ENTRY + " model_version_policy { specific { } }"),
            "lists no versions",
        ),
        (
            model_entry(OK_ENTRY + " model_version_policy { all {} latest {} }"),
            "invalid tensorflow.serving",
        ),
    ],
)
def test_model_config_file_errors_name_file_and_problem(tmp_path, text, problem):
    path = write(tmp_path, text, "models.config")
    with pytest.raises(ValueError) as raised:
        read_model_config_file(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert problem in message


def test_model_config_error_message_is_whole(tmp_path):
    text = model_entry('name: "m" base_path: "" model_platform: "tensorflow"')
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as raised:
        read_model_config_file(path)
    assert str(raised.value) == f"{path}: model m: base_path is empty"


def test_model_config_requires_absolute_base_path():
    with pytest.raises(ValueError, match="not absolute"):
        ModelConfig("m", Path("relative/m"))
    with pytest.raises(ValueError, match="empty"):
        ModelConfig("", Path("/m"))


# --------------------------------------------------------------------------
# batching_parameters
# --------------------------------------------------------------------------

KIT_BATCHING = """max_batch_size { value: 32 }
batch_timeout_micros { value: 2000 }
max_enqueued_batches { value: 100 }
num_batch_threads { value: 2 }
"""


def test_batching_parameters_from_tf_serving_text(tmp_path):
    params = read_batching_parameters(write(tmp_path, KIT_BATCHING))
    assert params == BatchingParameters(
        max_batch_size=32,
        batch_timeout_micros=2000,
        max_enqueued_batches=100,
        num_batch_threads=2,
        thread_pool_name="batch_threads",
        allowed_batch_sizes=(),
        pad_variable_length_inputs=False,
    )
    assert params.execution_batch_size == 32


def test_unset_batching_fields_take_tf_serving_defaults(tmp_path):
    params = read_batching_parameters(write(tmp_path, ""))
    assert params.max_batch_size == 1000
    assert params.batch_timeout_micros == 0
    assert params.max_enqueued_batches == 10
    assert params.num_batch_threads == len(os.sched_getaffinity(0))
    assert params.thread_pool_name == "batch_threads"
    assert params.allowed_batch_sizes == ()
    assert params.enable_large_batch_splitting is False


def test_batching_allowed_sizes_padding_and_splitting(tmp_path):
    text = """
        max_batch_size { value: 64 }
        thread_pool_name { value: "model_server_batch_threads" }
        allowed_batch_sizes: 8
        allowed_batch_sizes: 16
        allowed_batch_sizes: 32
        pad_variable_length_inputs: true
        enable_large_batch_splitting { value: true }
        max_execution_batch_size { value: 32 }
    """
    params = read_batching_parameters(write(tmp_path, text))
    assert params.allowed_batch_sizes == (8, 16, 32)
    assert params.pad_variable_length_inputs is True
    assert params.thread_pool_name == "model_server_batch_threads"
    assert params.enable_large_batch_splitting is True
    assert params.max_batch_size == 64
    assert params.execution_batch_size == 32


def test_zero_max_enqueued_batches_means_one(tmp_path):
    text = "max_enqueued_batches { value: 0 }"
    assert read_batching_parameters(write(tmp_path, text)).max_enqueued_batches == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("max_batch_sise { value: 32 }", "max_batch_sise"),
        ("max_batch_size: 32", "invalid tensorflow.serving.BatchingParameters"),
        ("max_batch_size { value: 0 }", "max_batch_size must be positive; was 0"),
        ("batch_timeout_micros { value: -1 }", "must be non-negative; was -1"),
        ("num_batch_threads { value: 0 }", "num_batch_threads must be positive"),
        (
            "max_batch_size { value: 32 } "
            "allowed_batch_sizes: 8 allowed_batch_sizes: 16",
            "last allowed_batch_sizes entry (16) must equal the maximum batch size "
            "(32)",
        ),
        ("allowed_batch_sizes: 8", "maximum batch size (1000)"),
        (
            "max_batch_size { value: 32 } allowed_batch_sizes: 16 "
            "allowed_batch_sizes: 8 allowed_batch_sizes: 32",
            "must be positive and increasing",
        ),
        (
            "max_batch_size { value: 16 } enable_large_batch_splitting { value: true } "
            "max_execution_batch_size { value: 32 }",
            "must be >= max_execution_batch_size (32)",
        ),
        (
            "enable_large_batch_splitting { value: true } "
            "max_enqueued_batches { value: 0 }",
            "max_enqueued_batches must be positive",
        ),
    ],
)
def test_bad_batching_parameters(tmp_path, text, problem):
    path = write(tmp_path, text, "batching_parameters")
    with pytest.raises(ValueError) as raised:
        read_batching_parameters(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert problem in str(raised.value)


@pytest.mark.parametrize(
    "params",
    [
        BatchingParameters(
            max_batch_size=32,
            batch_timeout_micros=0,
            max_enqueued_batches=100,
            num_batch_threads=3,
        ),
        BatchingParameters(
            max_batch_size=64,
            batch_timeout_micros=1500,
            num_batch_threads=1,
            thread_pool_name="pool",
            allowed_batch_sizes=(4, 16),
            pad_variable_length_inputs=True,
            enable_large_batch_splitting=True,
            max_execution_batch_size=16,
        ),
    ],
)
def test_batching_parameters_text_round_trip(tmp_path, params):
    text = batching_parameters_text(params)
    assert f"value: {params.num_batch_threads}" in text
    assert read_batching_parameters(write(tmp_path, text)) == params


# --------------------------------------------------------------------------
# monitoring.config, ssl config
# --------------------------------------------------------------------------


def test_monitoring_config(tmp_path):
    text = 'prometheus_config { enable: true path: "/metrics" }'
    assert read_monitoring_config(write(tmp_path, text)) == MonitoringConfig(
        True, "/metrics"
    )
    text = "prometheus_config { enable: true }"
    config = read_monitoring_config(write(tmp_path, text))
    assert config == MonitoringConfig(True, "/monitoring/prometheus/metrics")
    assert read_monitoring_config(write(tmp_path, "")) == MonitoringConfig(
        False, PROMETHEUS_PATH
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("prometheus_config { enabled: true }", "enabled"),
        ('prometheus_config { enable: true path: "metrics" }', "must start with '/'"),
    ],
)
def test_bad_monitoring_config(tmp_path, text, problem):
    path = write(tmp_path, text, "monitoring.config")
    with pytest.raises(ValueError, match=re.escape(problem)) as raised:
        read_monitoring_config(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_monitoring_config_text_round_trip(tmp_path):
    config = MonitoringConfig(True, "/custom/metrics")
    text = monitoring_config_text(config)
    assert "enable: true" in text
    assert read_monitoring_config(write(tmp_path, text)) == config


PEM_KEY = "-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----\\n"
PEM_CERT = "-----BEGIN CERTIFICATE-----\\ndef\\n-----END CERTIFICATE-----\\n"


def test_ssl_config(tmp_path):
    text = f'server_key: "{PEM_KEY}" server_cert: "{PEM_CERT}" client_verify: true'
    config = read_ssl_config(write(tmp_path, text))
    assert config == SslConfig(
        server_key=PEM_KEY.replace("\\n", "\n"),
        server_cert=PEM_CERT.replace("\\n", "\n"),
        custom_ca="",
        client_verify=True,
    )


def test_ssl_config_wants_pem_text_not_file_names(tmp_path):
    path = write(tmp_path, 'server_key: "/etc/key.pem" server_cert: "/etc/cert.pem"')
    with pytest.raises(ValueError, match="server_key is not PEM text"):
        read_ssl_config(path)


# --------------------------------------------------------------------------
# Prometheus metrics
# --------------------------------------------------------------------------

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_page(text: str) -> tuple[dict[str, str], list[tuple[str, dict, float]]]:
    """(metric -> type, samples) from an exposition page; fails on any line
    that is neither a ``# TYPE`` line nor ``name{labels} value``."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    samples = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "histogram"), line
            types[name] = kind
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        pairs = LABEL.findall(labels)
        assert ",".join(f'{k}="{v}"' for k, v in pairs) == labels, line
        samples.append((name, dict(pairs), float(value)))
    return types, samples


def family(samples, name: str) -> list[tuple[dict, float]]:
    return [(labels, value) for n, labels, value in samples if n == name]


def test_latency_buckets_are_tf_servings():
    assert len(LATENCY_BUCKETS_US) == 33
    assert LATENCY_BUCKETS_US[:4] == (10, 18, 32.4, 58.32)
    assert LATENCY_BUCKETS_US[-1] == pytest.approx(10 * 1.8**32, rel=1e-6)


def test_metrics_page_parses_back():
    metrics = Metrics()
    metrics.count_request("bert", "Predict", "GRPC", "OK", 0.0015)
    metrics.count_request("bert", "Predict", "GRPC", "OK", 0.040)
    metrics.count_request("bert", "Predict", "REST", "OK", 2000.0)
    metrics.count_request("bert", "Classify", "GRPC", "INVALID_ARGUMENT", 0.5)
    metrics.count_load("/models/bert/3", "success", latency_s=1.25)
    metrics.count_load("/models/bert/4", "fail")

    types, samples = parse_page(metrics.render())

    assert types == {
        REQUEST_COUNT: "counter",
        REQUEST_LATENCY: "histogram",
        LOAD_ATTEMPT_COUNT: "counter",
        LOAD_LATENCY: "counter",
    }
    assert sorted(
        (labels["model_name"], labels["status"], value)
        for labels, value in family(samples, REQUEST_COUNT)
    ) == [("bert", "INVALID_ARGUMENT", 1), ("bert", "OK", 3)]
    assert family(samples, LOAD_ATTEMPT_COUNT) == [
        ({"model_path": "/models/bert/3", "status": "success"}, 1),
        ({"model_path": "/models/bert/4", "status": "fail"}, 1),
    ]
    assert family(samples, LOAD_LATENCY) == [
        ({"model_path": "/models/bert/3"}, 1250000)
    ]

    grpc = {"model_name": "bert", "API": "Predict", "entrypoint": "GRPC"}
    buckets = [
        (labels.pop("le"), value)
        for labels, value in family(samples, REQUEST_LATENCY + "_bucket")
        if {k: v for k, v in labels.items() if k != "le"} == grpc
    ]
    assert len(buckets) == 34
    assert buckets[-1] == ("+Inf", 2)
    bounds = [float(le) for le, _ in buckets[:-1]]
    assert bounds == sorted(bounds) and bounds[0] == 10 and bounds[1] == 18
    counts = [count for _, count in buckets]
    assert counts == sorted(counts)  # cumulative
    # 1500 us first fits under le=1983.59; 40000 us under le=67466.4.
    assert dict(buckets)["1102"] == 0
    assert dict(buckets)["1983.59"] == 1
    assert dict(buckets)["37481.3"] == 1
    assert dict(buckets)["67466.4"] == 2
    assert family(samples, REQUEST_LATENCY + "_sum") == [
        ({"model_name": "bert", "API": "Predict", "entrypoint": "GRPC"}, 41500),
        ({"model_name": "bert", "API": "Predict", "entrypoint": "REST"}, 2e9),
    ]
    assert family(samples, REQUEST_LATENCY + "_count") == [
        (grpc, 2),
        (
            {"model_name": "bert", "API": "Predict", "entrypoint": "REST"},
            1,
        ),
    ]
    rest_inf = [
        value
        for labels, value in family(samples, REQUEST_LATENCY + "_bucket")
        if labels["entrypoint"] == "REST" and labels["le"] in ("1.47476e+09", "+Inf")
    ]
    assert rest_inf == [0, 1]  # 2000 s is beyond the last finite bucket


def test_failed_requests_are_counted_but_not_timed():
    metrics = Metrics()
    metrics.count_request("m", "Predict", "GRPC", "NOT_FOUND", 0.1)
    types, samples = parse_page(metrics.render())
    assert family(samples, REQUEST_COUNT) == [
        ({"model_name": "m", "status": "NOT_FOUND"}, 1)
    ]
    assert family(samples, REQUEST_LATENCY + "_count") == []
    assert types[REQUEST_LATENCY] == "histogram"


def test_empty_page_has_only_type_lines():
    assert Metrics().render() == (
        f"# TYPE {REQUEST_COUNT} counter\n"
        f"# TYPE {REQUEST_LATENCY} histogram\n"
        f"# TYPE {LOAD_ATTEMPT_COUNT} counter\n"
        f"# TYPE {LOAD_LATENCY} counter\n"
    )


def test_bad_statuses_and_durations_are_rejected():
    metrics = Metrics()
    with pytest.raises(ValueError, match="unknown status code name 'ok'"):
        metrics.count_request("m", "Predict", "GRPC", "ok", 0.1)
    with pytest.raises(ValueError, match="'success' or 'fail'"):
        metrics.count_load("/m/1", "OK")
    with pytest.raises(ValueError, match="negative"):
        metrics.count_request("m", "Predict", "GRPC", "OK", -1.0)
    with pytest.raises(ValueError, match="cannot decrease"):
        metrics.load_latency.increment(("/m/1",), -5)


def test_label_values_are_escaped():
    counter = Counter(":t:c", ("name",))
    counter.increment(('a"b\\c\nd',), 2)
    assert counter.lines()[1] == ':t:c{name="a\\"b\\\\c\\nd"} 2'


def test_histogram_le_is_inclusive_and_cumulative():
    histogram = Histogram(":t:h", ("status",), (1, 2, 4))
    for value in (2, 3, 4, 5, 0):
        histogram.observe(("good",), value)
    assert histogram.lines() == [
        "# TYPE :t:h histogram",
        ':t:h_bucket{status="good",le="1"} 1',
        ':t:h_bucket{status="good",le="2"} 2',
        ':t:h_bucket{status="good",le="4"} 4',
        ':t:h_bucket{status="good",le="+Inf"} 5',
        ':t:h_sum{status="good"} 14',
        ':t:h_count{status="good"} 5',
    ]


def test_histogram_counts_under_the_printed_bounds():
    histogram = Histogram(":t:h", (), (1101.996,))
    assert histogram.limits == (1102.0,)
    histogram.observe((), 1102)
    assert histogram.lines()[1] == ':t:h_bucket{le="1102"} 1'


def test_metrics_are_thread_safe():
    metrics = Metrics()

    def hammer():
        for _ in range(2000):
            metrics.count_request("m", "Predict", "GRPC", "OK", 0.001)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, samples = parse_page(metrics.render())
    assert family(samples, REQUEST_COUNT) == [
        ({"model_name": "m", "status": "OK"}, 16000)
    ]
    labels = {"model_name": "m", "API": "Predict", "entrypoint": "GRPC"}
    assert family(samples, REQUEST_LATENCY + "_count") == [(labels, 16000)]
    assert family(samples, REQUEST_LATENCY + "_sum") == [(labels, 16000 * 1000)]
