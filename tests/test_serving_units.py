"""Unit tests of the serving pieces that need no model: wire formats,
request checks, dynamic batching, REST JSON mapping, kit files."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import input_pb2
from tensorflow_serving.config import model_server_config_pb2

from serving.batching import DynamicBatcher
from serving.errors import ServingError
from serving.inference import Limits, check_inputs
from serving.kit import batching_parameters, models_config, write_kit
from serving.model_store import BatchingConfig, list_versions
from serving.rest import request_arrays, response_body
from serving.tensors import (
    serialized_examples,
    string_array,
    text_example,
    to_jsonable,
    to_ndarray,
    to_tensor_proto,
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


def test_typed_value_fields_and_single_value_broadcast_decode():
    proto = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_INT32,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=3)]
        ),
        int_val=[7],
    )
    np.testing.assert_array_equal(to_ndarray(proto), [7, 7, 7])
    proto.int_val.append(8)
    with pytest.raises(ServingError, match="needs 3 values, got 2"):
        to_ndarray(proto)
    with pytest.raises(ServingError, match="Unsupported tensor dtype DT_HALF"):
        to_ndarray(tensor_pb2.TensorProto(dtype=types_pb2.DT_HALF))


def test_serialized_examples_rejects_empty_and_other_kinds():
    request_input = input_pb2.Input(
        example_list=input_pb2.ExampleList(examples=[text_example("hi")])
    )
    assert len(serialized_examples(request_input)) == 1
    with pytest.raises(ServingError, match="empty batch"):
        serialized_examples(input_pb2.Input(example_list=input_pb2.ExampleList()))
    with pytest.raises(ServingError, match="example_list"):
        serialized_examples(input_pb2.Input())


def _signature(**inputs: tuple[int, list[int]]) -> meta_graph_pb2.SignatureDef:
    signature = meta_graph_pb2.SignatureDef()
    for name, (dtype, dims) in inputs.items():
        info = signature.inputs[name]
        info.dtype = dtype
        info.tensor_shape.dim.extend(
            tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in dims
        )
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
            r"missing \['text'\].*unexpected \['texts'\]",
        ),
        ({"text": np.array([1], np.int32)}, "must be DT_STRING, got DT_INT32"),
        ({"text": string_array([b"a", b"b"]).reshape(1, 2)}, r"shape \[None\]"),
        ({"text": string_array([])}, "empty batch"),
        ({"text": string_array([b"a"] * 5)}, "larger than maximum input batch size 4"),
        ({"text": string_array([b"ok", b"\xc3\x28"])}, "element 1 is not valid UTF-8"),
    ],
)
def test_check_inputs_rejects_bad_requests(inputs, message):
    with pytest.raises(ServingError, match=message) as caught:
        check_inputs("serving_default", TEXT, inputs, Limits(max_batch_size=4))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_check_inputs_batch_disagreement_and_valid_tensors():
    ids = np.ones((2, 5), np.int32)
    checked = check_inputs(
        "tensors", TENSORS, {"input_ids": ids, "input_mask": ids}, Limits()
    )
    assert set(checked) == {"input_ids", "input_mask"}
    with pytest.raises(ServingError, match=r"disagree on the batch size: \[2, 3\]"):
        check_inputs(
            "tensors",
            TENSORS,
            {"input_ids": ids, "input_mask": np.ones((3, 5), np.int32)},
            Limits(),
        )


def test_long_text_is_truncated_at_a_character_boundary_or_rejected():
    text = string_array(["aé".encode() * 10])  # 30 bytes; é is 2 bytes
    truncated = check_inputs("s", TEXT, {"text": text}, Limits(max_text_bytes=5))
    assert truncated["text"][0] == "aéa".encode()  # not the first byte of 'é'
    with pytest.raises(ServingError, match="has 30 bytes; the limit is 5"):
        check_inputs(
            "s", TEXT, {"text": text}, Limits(max_text_bytes=5, long_text="reject")
        )


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


def test_rest_row_and_column_formats():
    strings = string_array([b"a", b"b"])
    arrays, row = request_arrays({"instances": ["a", {"b64": "Yg=="}]}, "s", TEXT)
    assert row and arrays["text"].tolist() == strings.tolist()
    arrays, row = request_arrays(
        {"inputs": {"input_ids": [[1, 2]], "input_mask": [[1, 1]]}}, "t", TENSORS
    )
    assert not row and arrays["input_ids"].dtype == np.int32
    outputs = {"p": np.array([[0.5, 0.5], [1.0, 0.0]]), "t": strings}
    assert response_body(outputs, True)["predictions"][1] == {"p": [1.0, 0.0], "t": "b"}
    assert response_body({"p": outputs["p"]}, False) == {
        "outputs": [[0.5, 0.5], [1.0, 0.0]]
    }
    for body, message in [
        ({}, "exactly one of"),
        ({"instances": []}, "non-empty list"),
        ({"instances": [{"input_ids": [1]}, {"x": [1]}]}, "same keys"),
        ({"inputs": {"input_ids": [[1, 2], [3]]}}, "rectangular"),
        ({"inputs": {"input_ids": [[1.5]]}}, "rectangular"),
        ({"inputs": [[1]]}, "named inputs"),
    ]:
        with pytest.raises(ServingError, match=message):
            request_arrays(body, "t", TENSORS)
    assert to_jsonable(string_array([b"\xff"])) == [{"b64": "/w=="}]


def test_kit_files_parse_and_versions_ignore_temporaries(tmp_path):
    config = text_format.Parse(
        models_config("m", "/models/m"), model_server_config_pb2.ModelServerConfig()
    )
    assert (
        config.model_config_list.config[0].model_version_policy.latest.num_versions == 1
    )
    text = batching_parameters(BatchingConfig(16, 0.003, num_threads=3))
    assert "max_batch_size { value: 16 }" in text
    assert "batch_timeout_micros { value: 3000 }" in text
    assert "num_batch_threads { value: 3 }" in text
    assert "pad_variable_length_inputs" not in text
    files = write_kit(
        tmp_path, {"serving_default": ["embedding"]}, 64, BatchingConfig()
    )
    assert {f.name for f in files} == {
        "models.config",
        "batching_parameters",
        "monitoring.config",
        "DEPLOY.md",
    }
    deploy = (tmp_path / "DEPLOY.md").read_text()
    assert "tensorflow/serving:latest-gpu" in deploy and "--gpus all" in deploy
    for name in ("3", ".tmp-4-x", "notes"):
        (tmp_path / name).mkdir()
    (tmp_path / "3" / "saved_model.pb").write_bytes(b"")
    (tmp_path / ".tmp-4-x" / "saved_model.pb").write_bytes(b"")
    assert list_versions(tmp_path) == [3]
