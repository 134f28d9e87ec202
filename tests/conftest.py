"""Shared pytest setup: quiet TensorFlow, the Keras backend, policy hygiene.

Helpers that tests import live in modules beside this file (``*_helpers.py``,
``finetune_data.py``), never in a test file.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_dtype_policy():
    """Tests that switch to mixed precision must not leak it into others."""
    yield
    keras.mixed_precision.set_global_policy("float32")
