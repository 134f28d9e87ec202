"""``kill -9`` mid-run, rerun the same command: it resumes and ends identically."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from pretrain_helpers import (
    make_tiny_build,
    max_weight_difference,
    pretrain_args,
    run_pretrain,
)

pytestmark = pytest.mark.slow
STEPS = 60


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    build = make_tiny_build(tmp_path / "records")
    # Dropout stays on: its random state must be checkpointed too.
    reference = run_pretrain(pretrain_args(*build, tmp_path / "reference", STEPS))
    assert reference.returncode == 0, reference.stderr[-3000:]

    output = tmp_path / "interrupted"
    args = pretrain_args(*build, output, STEPS)
    code = (
        "import sys\nfrom kerasbert_cli.commands.pretrain import main\nsys.exit(main())"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = output / "checkpoints" / "ckpt-20.index"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before the kill"
    assert not (output / "summary.json").exists()

    resumed = run_pretrain(args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["start_step"] in (10, 20) and summary["final_step"] == STEPS
    assert summary["resumed_from"].endswith(f"ckpt-{summary['start_step']}")
    difference = max_weight_difference(
        tmp_path / "reference" / "pretrainer.keras", output / "pretrainer.keras"
    )
    assert difference < 1e-6
