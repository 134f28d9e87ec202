"""Multi-worker and mirrored training match one process with the same global batch.

Each run is a separate process, so logical-device and TF_CONFIG setup cannot
leak into other tests.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from pretrain_helpers import (
    make_tiny_build,
    max_weight_difference,
    pretrain_args,
    run_pretrain,
)

pytestmark = pytest.mark.slow
STEPS = 6
NO_DROPOUT = {"dropout_rate": 0.0, "attention_dropout_rate": 0.0}
TWO_LOGICAL_CPUS = (
    "import tensorflow as tf\n"
    "cpu = tf.config.list_physical_devices('CPU')[0]\n"
    "tf.config.set_logical_device_configuration(\n"
    "    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)"
)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    return make_tiny_build(tmp_path_factory.mktemp("records"))


@pytest.fixture(scope="module")
def single_process(build, tmp_path_factory):
    output = tmp_path_factory.mktemp("single")
    result = run_pretrain(pretrain_args(*build, output, STEPS, **NO_DROPOUT))
    assert result.returncode == 0, result.stderr[-3000:]
    return output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mirrored_over_two_logical_cpus_matches_one_device(
    build, single_process, tmp_path
):
    args = pretrain_args(*build, tmp_path, STEPS, **NO_DROPOUT)
    result = run_pretrain([*args, "--strategy", "mirrored"], prelude=TWO_LOGICAL_CPUS)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["strategy"] == "MirroredStrategy" and summary["replicas"] == 2
    difference = max_weight_difference(
        single_process / "pretrainer.keras", tmp_path / "pretrainer.keras"
    )
    assert difference < 1e-5


def test_two_workers_match_one_process(build, single_process, tmp_path):
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    args = pretrain_args(*build, tmp_path, STEPS, **NO_DROPOUT)
    code = (
        "import sys\nfrom kerasbert_cli.commands.pretrain import main\nsys.exit(main())"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code, *args, "--strategy", "multiworker"],
            env={
                **os.environ,
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": index}}
                ),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(2)
    ]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    # MultiWorkerMirroredStrategy's class is CollectiveAllReduceStrategy.
    assert summary["strategy"] == "CollectiveAllReduceStrategy"
    assert summary["replicas"] == 2
    assert not any(p.name.startswith(".scratch") for p in tmp_path.glob("*/*"))
    difference = max_weight_difference(
        single_process / "pretrainer.keras", tmp_path / "pretrainer.keras"
    )
    assert difference < 1e-5
