"""``kerasbert finetune``: each task end to end on small learnable data."""

import json

import keras
import pytest
from finetune_data import (
    conll_file,
    sentiment_rows,
    similarity_rows,
    squad_file,
    write_checkpoint,
    write_tsv,
)

from kerasbert.finetuning.readers import read_squad
from kerasbert.finetuning.squad_metrics import squad_scores
from kerasbert.finetuning.text_model import TextTaskModel
from kerasbert_cli.main import main

FAST = ["--no-progress", "--learning-rate", "3e-3", "--warmup-ratio", "0.05"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("checkpoint"))


def finetune(task, checkpoint, train, validation, output, *extra):
    argv = ["finetune", task, "--model", str(checkpoint), "--train", str(train)]
    argv += ["--validation", str(validation), "--output", str(output), *FAST]
    assert main(argv + list(extra)) == 0
    return json.loads((output / "metrics.json").read_text())


def test_classify_learns_saves_and_predicts_strings(checkpoint, tmp_path):
    train = write_tsv(
        tmp_path / "train.tsv", ["sentence", "label"], sentiment_rows(256, 0)
    )
    dev = write_tsv(tmp_path / "dev.tsv", ["sentence", "label"], sentiment_rows(64, 1))
    metrics = finetune(
        "classify",
        checkpoint,
        train,
        dev,
        tmp_path / "out",
        "--epochs",
        "4",
        "--batch-size",
        "16",
        "--max-seq-length",
        "16",
    )
    assert metrics["labels"] == ["neg", "pos"]
    assert metrics["best"]["accuracy"] >= 0.95
    assert len(metrics["history"]) == 4
    assert metrics["best"]["accuracy"] == max(r["accuracy"] for r in metrics["history"])
    assert metrics["train_examples_per_second"] > 0
    assert (tmp_path / "out" / "curves.png").stat().st_size > 1000

    model = keras.saving.load_model(tmp_path / "out" / "model.keras")
    assert isinstance(model, TextTaskModel)
    probabilities = model.predict(["it was very good", "the plot is bad"], verbose=0)
    assert probabilities.shape == (2, 2)
    assert [r["label"] for r in model.classify(["good film", "bad film"])] == [
        "pos",
        "neg",
    ]


def test_regress_pairs_correlates(checkpoint, tmp_path):
    header = ["a", "b", "score"]
    train = write_tsv(tmp_path / "train.tsv", header, similarity_rows(256, 0))
    dev = write_tsv(tmp_path / "dev.tsv", header, similarity_rows(64, 1))
    metrics = finetune(
        "regress",
        checkpoint,
        train,
        dev,
        tmp_path / "out",
        "--text-column",
        "a",
        "--pair-column",
        "b",
        "--label-column",
        "score",
        "--epochs",
        "6",
        "--batch-size",
        "16",
        "--max-seq-length",
        "20",
        "--pooling",
        "mean",
    )
    assert metrics["best"]["pearson"] > 0.8
    assert {"pearson", "spearman", "mse"} <= set(metrics["best"])
    model = keras.saving.load_model(tmp_path / "out" / "model.keras")
    scores = model.predict((["the film is good"], ["the film is good"]), verbose=0)
    assert scores.shape == (1,)


def test_squad_windows_predictions_and_answers(checkpoint, tmp_path):
    train = squad_file(tmp_path / "train.json", 300, 0)
    dev = squad_file(tmp_path / "dev.json", 40, 1)
    metrics = finetune(
        "squad",
        checkpoint,
        train,
        dev,
        tmp_path / "out",
        "--epochs",
        "5",
        "--batch-size",
        "16",
        "--max-seq-length",
        "20",
        "--doc-stride",
        "6",
        "--max-query-length",
        "8",
    )
    # Windows: 24 tokens hold only part of each context, so there are more
    # inputs than questions, and decoding must pick across windows.
    assert metrics["train_examples"] > 300
    predictions = json.loads((tmp_path / "out" / "predictions.json").read_text())
    examples = read_squad(dev)
    assert set(predictions) == {e.id for e in examples}
    scores = squad_scores(examples, predictions)
    assert scores["f1"] == pytest.approx(metrics["best"]["f1"])
    assert metrics["best"]["exact_match"] >= 80.0

    model = keras.saving.load_model(tmp_path / "out" / "model.keras")
    context = "the film is good. Kim lives in Oslo."
    answer = model.answer(["Where does Kim live?"], [context])[0]
    assert answer["text"] == context[answer["start"] : answer["end"]]
    assert answer["text"] == "Oslo"


def test_tag_entities(checkpoint, tmp_path):
    train = conll_file(tmp_path / "train.txt", 300, 0)
    dev = conll_file(tmp_path / "dev.txt", 60, 1)
    metrics = finetune(
        "tag",
        checkpoint,
        train,
        dev,
        tmp_path / "out",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--max-seq-length",
        "24",
    )
    assert metrics["labels"][0] == "O"
    assert metrics["best"]["f1"] >= 0.95
    model = keras.saving.load_model(tmp_path / "out" / "model.keras")
    assert model.tag(["john lives in paris"]) == [
        [("john", "B-PER"), ("lives", "O"), ("in", "O"), ("paris", "B-LOC")]
    ]


def test_finished_run_is_not_overwritten(checkpoint, tmp_path):
    train = write_tsv(tmp_path / "t.tsv", ["sentence", "label"], sentiment_rows(32, 0))
    args = ("--epochs", "1", "--batch-size", "16", "--max-seq-length", "12")
    finetune("classify", checkpoint, train, train, tmp_path / "out", *args)
    with pytest.raises(FileExistsError, match="--overwrite"):
        finetune("classify", checkpoint, train, train, tmp_path / "out", *args)
    finetune(
        "classify", checkpoint, train, train, tmp_path / "out", *args, "--overwrite"
    )


def test_unknown_validation_label_is_a_clear_error(checkpoint, tmp_path):
    train = write_tsv(tmp_path / "t.tsv", ["sentence", "label"], sentiment_rows(32, 0))
    dev = write_tsv(tmp_path / "d.tsv", ["sentence", "label"], [("good film", "meh")])
    with pytest.raises(ValueError, match="meh"):
        finetune("classify", checkpoint, train, dev, tmp_path / "out")


def test_resumes_after_kill_9(checkpoint, tmp_path):
    """A run killed with SIGKILL after its first evaluation resumes there."""
    import os
    import signal
    import subprocess
    import sys
    import time

    train = write_tsv(tmp_path / "t.tsv", ["sentence", "label"], sentiment_rows(96, 0))
    output = tmp_path / "out"
    argv = ["finetune", "classify", "--model", str(checkpoint), "--train", str(train)]
    argv += ["--validation", str(train), "--output", str(output), *FAST]
    argv += ["--epochs", "6", "--batch-size", "16", "--max-seq-length", "12"]
    code = (
        "import sys; from kerasbert_cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    process = subprocess.Popen([sys.executable, "-c", code, *argv])
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        backups = list((output / "backup").glob("*")) if output.exists() else []
        if (output / "progress.json").is_file() and backups:
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    first = json.loads((output / "progress.json").read_text())["history"]
    assert 1 <= len(first) < 6

    metrics = finetune(
        "classify",
        checkpoint,
        train,
        train,
        output,
        "--epochs",
        "6",
        "--batch-size",
        "16",
        "--max-seq-length",
        "12",
    )
    steps = [row["step"] for row in metrics["history"]]
    assert steps == [6, 12, 18, 24, 30, 36]
    assert metrics["history"][0] == first[0]  # kept, not retrained
    assert not (output / "backup").exists() and not (output / "progress.json").exists()
