"""The NumPy TFRecord / tf.train.Example writer against TensorFlow's own."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from kerasbert.data.records_format import crc32c_batch, frame_records, iter_records
from tfrecords_tools.records import encode_examples


def test_crc32c_known_values():
    # RFC 3720 test vector and the classic "123456789" check value.
    assert crc32c_batch([b"\x00" * 32, b"123456789", b""]).tolist() == [
        0x8A9136AA,
        0xE3069283,
        0x00000000,
    ]


def test_examples_parse_identically_in_tensorflow(tmp_path):
    rng = np.random.default_rng(0)
    features = {
        "input_ids": rng.integers(0, 2**27, size=(50, 33)),
        "labels": rng.integers(0, 2, size=(50, 1)),
        "weights": rng.random((50, 7)).astype(np.float32),
    }
    messages = encode_examples(features)
    for row, message in enumerate(messages):
        example = tf.train.Example.FromString(message)
        reference = tf.train.Example(
            features=tf.train.Features(
                feature={
                    "input_ids": tf.train.Feature(
                        int64_list=tf.train.Int64List(value=features["input_ids"][row])
                    ),
                    "labels": tf.train.Feature(
                        int64_list=tf.train.Int64List(value=features["labels"][row])
                    ),
                    "weights": tf.train.Feature(
                        float_list=tf.train.FloatList(value=features["weights"][row])
                    ),
                }
            )
        )
        assert example == reference
    path = tmp_path / "x.tfrecord"
    path.write_bytes(frame_records(messages))
    # TensorFlow's reader checks both CRCs of every record.
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(path))] == messages
    with tf.io.TFRecordWriter(str(tmp_path / "tf.tfrecord")) as writer:
        for message in messages:
            writer.write(message)
    assert (tmp_path / "tf.tfrecord").read_bytes() == path.read_bytes()
    assert list(iter_records(path, batch=7)) == messages


def test_negative_or_huge_ints_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 2\*\*28\)"):
        encode_examples({"x": np.array([[-1]])})


@pytest.mark.parametrize("damage", ["flip", "truncate", "length"])
def test_corrupt_records_name_file_and_offset(tmp_path, damage):
    messages = encode_examples({"x": np.arange(40).reshape(20, 2)})
    data = bytearray(frame_records(messages))
    if damage == "flip":
        data[len(data) // 2] ^= 1
    elif damage == "truncate":
        del data[-2:]
    else:
        data[0:8] = (10**9).to_bytes(8, "little")  # absurd length, no huge read
    path = tmp_path / "shard-3.tfrecord"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"shard-3\.tfrecord: .*record \d+ at byte"):
        list(iter_records(path))
