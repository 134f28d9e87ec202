"""Unit tests of the serving pieces that need no model: wire formats,
request checks, dynamic batching, kit files, version directories."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.example import example_pb2
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import input_pb2

from serving.batching import DynamicBatcher
from serving.config_files import (
    BatchingParameters,
    read_batching_parameters,
    read_model_config_file,
    read_monitoring_config,
)
from serving.errors import ServingError
from serving.inference import (
    Limits,
    check_limits,
    check_output_filter,
    check_predict_inputs,
)
from serving.kit import write_kit
from serving.model_manager import version_directories
from serving.tensors import (
    serialized_examples,
    string_array,
    text_example,
    to_jsonable,
    to_ndarray,
    to_tensor_proto,
    to_typed_tensor_proto,
)


def test_tensor_proto_round_trip_keeps_dtype_shape_and_values():
    rng = np.random.default_rng(0)
    for array in (
        rng.normal(size=(2, 3)).astype(np.float32),
        rng.integers(-5, 5, size=(4,), dtype=np.int32),
        rng.integers(0, 9, size=(1, 2, 2)).astype(np.int64),
        np.array([True, False]),
    ):
        decoded = to_ndarray(to_tensor_proto(array))
        assert decoded.dtype == array.dtype and decoded.shape == array.shape
        np.testing.assert_array_equal(decoded, array)
    strings = to_ndarray(to_tensor_proto(["héllo", b"\xff"]))
    assert strings.tolist() == ["héllo".encode(), b"\xff"]


def test_typed_value_fields_pad_with_the_last_value_as_tensorflow_does():
    proto = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_INT32,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=3)]
        ),
        int_val=[7],
    )
    np.testing.assert_array_equal(to_ndarray(proto), [7, 7, 7])
    np.testing.assert_array_equal(
        to_ndarray(proto), tf.make_ndarray(proto)
    )  # TensorFlow's own reading
    proto.int_val.append(8)
    np.testing.assert_array_equal(to_ndarray(proto), tf.make_ndarray(proto))
    proto.int_val.extend([9, 10])
    with pytest.raises(ServingError, match="needs 3 values, got 4"):
        to_ndarray(proto)
    with pytest.raises(ServingError, match="Unsupported tensor dtype DT_HALF"):
        to_ndarray(tensor_pb2.TensorProto(dtype=types_pb2.DT_HALF))


def test_sizes_are_checked_before_anything_is_allocated():
    huge = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_INT32,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=2**40)]
        ),
        int_val=[1],
    )
    with pytest.raises(ServingError, match="the limit is 1000") as caught:
        to_ndarray(huge, max_elements=1000)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    short = to_tensor_proto(np.arange(4, dtype=np.int32))
    short.tensor_content = short.tensor_content[:-1]
    with pytest.raises(ServingError, match="tensor_content has 15 bytes"):
        to_ndarray(short)


def test_outputs_fill_the_typed_fields_as_tf_serving_does():
    for array, field in [
        (np.array([[0.25, 0.75]], np.float32), "float_val"),
        (np.array([[1, -1]], np.int32), "int_val"),
        (np.array([3], np.int64), "int64_val"),
        (string_array([b"a", b"\xff"]), "string_val"),
    ]:
        proto = to_typed_tensor_proto(array)
        assert not proto.tensor_content and len(getattr(proto, field)) == array.size
        np.testing.assert_array_equal(tf.make_ndarray(proto), array)


def test_serialized_examples_merge_the_context_and_reject_empty_input():
    request_input = input_pb2.Input(
        example_list=input_pb2.ExampleList(examples=[text_example("hi")])
    )
    assert len(serialized_examples(request_input)) == 1
    with_context = input_pb2.Input(
        example_list_with_context=input_pb2.ExampleListWithContext(
            examples=[text_example("one"), text_example("two")],
            context=text_example("shared", feature="topic"),
        )
    )
    serialized = serialized_examples(with_context)
    parsed = [example_pb2.Example.FromString(s) for s in serialized]
    assert [p.features.feature["text"].bytes_list.value[0] for p in parsed] == [
        b"one",
        b"two",
    ]
    assert all(
        p.features.feature["topic"].bytes_list.value[0] == b"shared" for p in parsed
    )
    for empty in (
        input_pb2.Input(example_list=input_pb2.ExampleList()),
        input_pb2.Input(),
    ):
        with pytest.raises(ServingError, match="Input is empty"):
            serialized_examples(empty)


def _signature(**inputs: tuple[int, list[int]]) -> meta_graph_pb2.SignatureDef:
    signature = meta_graph_pb2.SignatureDef()
    for name, (dtype, dims) in inputs.items():
        info = signature.inputs[name]
        info.dtype = dtype
        info.tensor_shape.dim.extend(
            tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in dims
        )
    signature.outputs["y"].dtype = types_pb2.DT_FLOAT
    return signature


TEXT = _signature(text=(types_pb2.DT_STRING, [-1]))
TENSORS = _signature(
    input_ids=(types_pb2.DT_INT32, [-1, -1]), input_mask=(types_pb2.DT_INT32, [-1, -1])
)


@pytest.mark.parametrize(
    "inputs, message",
    [
        (
            {"texts": string_array([b"a"])},
            r"Sent extra: \['texts'\]. Missing but required: \['text'\]",
        ),
        ({"text": np.array([1], np.int32)}, "to be DT_STRING but DT_INT32"),
        ({"text": string_array([b"a"] * 5)}, "larger than maximum input batch size 4"),
        (
            {"text": string_array([b"a"] * 7).reshape(1, 7)},
            "7 elements; the limit is 6",
        ),
        ({"text": string_array([b"abcdefghi"])}, "string of 9 bytes; the limit is 8"),
    ],
)
def test_predict_inputs_are_checked_like_tf_serving_plus_limits(inputs, message):
    limits = Limits(max_batch_size=4, max_tensor_elements=6, max_string_bytes=8)
    with pytest.raises(ServingError, match=message) as caught:
        check_predict_inputs(TEXT, inputs, limits)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_static_shapes_are_not_checked_and_batches_must_agree():
    # TF Serving's session does not check static shapes: neither do we.
    check_predict_inputs(
        TEXT, {"text": string_array([b"a", b"b"]).reshape(1, 2)}, Limits()
    )
    check_predict_inputs(TEXT, {"text": string_array([])}, Limits())
    ids = np.ones((2, 5), np.int32)
    check_predict_inputs(TENSORS, {"input_ids": ids, "input_mask": ids}, Limits())
    with pytest.raises(ServingError, match=r"disagree on the batch size: \[2, 3\]"):
        check_predict_inputs(
            TENSORS,
            {"input_ids": ids, "input_mask": np.ones((3, 5), np.int32)},
            Limits(),
        )
    assert check_output_filter(TENSORS, []) == ["y"]
    with pytest.raises(ServingError, match="alias not found in signature: z"):
        check_output_filter(TENSORS, ["z"])
    with pytest.raises(ServingError, match="duplicate output tensor alias: y"):
        check_output_filter(TENSORS, ["y", "y"])
    check_limits("x", np.zeros(()), Limits())  # scalars have no batch axis


@pytest.mark.parametrize("num_threads", [1, 2])
def test_batcher_merges_concurrent_requests_and_splits_results(num_threads):
    calls = []

    def run(inputs):
        calls.append(len(inputs["x"]))
        time.sleep(0.01)
        return {"y": inputs["x"] * 2, "first": inputs["x"][:, 0]}

    batcher = DynamicBatcher(
        run, max_batch_size=8, timeout_s=0.05, num_threads=num_threads
    )
    results = {}

    def client(i: int) -> None:
        results[i] = batcher.submit({"x": np.full((2, 3), i, np.int64)})

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batcher.close()
    for i, outputs in results.items():
        np.testing.assert_array_equal(outputs["y"], np.full((2, 3), 2 * i))
        np.testing.assert_array_equal(outputs["first"], [i, i])
    assert sum(calls) == 8 and max(calls) > 2  # some requests shared a call
    with pytest.raises(ValueError, match="num_threads"):
        DynamicBatcher(run, max_batch_size=8, timeout_s=0.05, num_threads=0)
    assert sum(size * n for size, n in batcher.batch_sizes.items()) == 8


def test_batcher_keeps_different_shapes_apart_and_reports_errors():
    seen = []

    def run(inputs):
        seen.append(inputs["x"].shape)
        if inputs["x"].shape[1] == 4:
            raise ValueError("boom")
        return {"y": inputs["x"]}

    batcher = DynamicBatcher(run, max_batch_size=8, timeout_s=0.05)
    outcome = {}

    def client(width: int) -> None:
        try:
            outcome[width] = batcher.submit({"x": np.zeros((1, width))})
        except ValueError as error:
            outcome[width] = error

    threads = [threading.Thread(target=client, args=(w,)) for w in (3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == [(1, 3), (1, 4)]
    assert isinstance(outcome[4], ValueError)
    assert outcome[3]["y"].shape == (1, 3)
    batcher.close()
    # After close, requests still run (unbatched) instead of being dropped.
    assert batcher.submit({"x": np.zeros((2, 3))})["y"].shape == (2, 3)


def test_a_failed_batch_is_rerun_request_by_request():
    """One request's bad values fail only that request; the others get their
    own answers and never see its error or its data."""
    calls = []

    def run(inputs):
        calls.append(inputs["x"][:, 0].tolist())
        if (inputs["x"] < 0).any():
            raise ValueError(f"negative values {inputs['x'][inputs['x'] < 0]}")
        return {"y": inputs["x"] + 1}

    batcher = DynamicBatcher(run, max_batch_size=16, timeout_s=0.2)
    outcome = {}

    def client(value: int) -> None:
        try:
            outcome[value] = batcher.submit({"x": np.full((1, 2), value)})
        except ValueError as error:
            outcome[value] = error

    threads = [threading.Thread(target=client, args=(v,)) for v in (1, -5, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batcher.close()
    assert any(len(call) > 1 for call in calls)  # they were batched first
    assert isinstance(outcome[-5], ValueError) and "-5" in str(outcome[-5])
    for value in (1, 2, 3):
        np.testing.assert_array_equal(outcome[value]["y"], [[value + 1] * 2])


def test_a_full_batch_queue_sheds_load_with_unavailable():
    release = threading.Event()

    def run(inputs):
        release.wait(5)
        return {"y": inputs["x"]}

    batcher = DynamicBatcher(
        run, max_batch_size=1, timeout_s=0.0, num_threads=1, max_enqueued_batches=1
    )
    first = threading.Thread(target=batcher.submit, args=({"x": np.zeros((1, 1))},))
    first.start()
    time.sleep(0.2)  # the worker holds the first task
    second = threading.Thread(target=batcher.submit, args=({"x": np.zeros((1, 1))},))
    second.start()
    time.sleep(0.2)  # the second fills the queue
    with pytest.raises(ServingError, match="queue .* is full") as caught:
        batcher.submit({"x": np.zeros((1, 1))})
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    release.set()
    first.join()
    second.join()
    batcher.close()
    assert to_jsonable(string_array([b"\xff"])) == [{"b64": "/w=="}]


def test_kit_files_are_read_back_by_the_server_and_versions_ignore_temporaries(
    tmp_path,
):
    batching = BatchingParameters(
        max_batch_size=16, batch_timeout_micros=3000, num_batch_threads=3
    )
    files = write_kit(tmp_path, {"serving_default": ["embedding"]}, 64, batching)
    assert {f.name for f in files} == {
        "models.config",
        "batching_parameters",
        "monitoring.config",
        "DEPLOY.md",
    }
    (model,) = read_model_config_file(tmp_path / "models.config")
    assert model.name == tmp_path.name and model.base_path == tmp_path.resolve()
    assert (
        model.version_policy.kind == "latest" and model.version_policy.num_versions == 1
    )
    assert read_batching_parameters(tmp_path / "batching_parameters") == batching
    assert (
        "pad_variable_length_inputs"
        not in (tmp_path / "batching_parameters").read_text()
    )
    monitoring = read_monitoring_config(tmp_path / "monitoring.config")
    assert monitoring.prometheus_enabled
    assert monitoring.prometheus_path == "/monitoring/prometheus/metrics"
    deploy = (tmp_path / "DEPLOY.md").read_text()
    assert f"--model_config_file={tmp_path.resolve()}/models.config" in deploy
    for name in ("3", "00000123", ".tmp-4-x", "notes", "7", "\u00b2"):
        (tmp_path / name).mkdir()
    for name in ("3", "00000123", ".tmp-4-x", "\u00b2"):
        (tmp_path / name / "saved_model.pb").write_bytes(b"")
    assert sorted(version_directories(tmp_path)) == [3, 123]  # 7 is incomplete
