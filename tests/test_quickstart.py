"""``kerasbert quickstart`` end to end, at a size that runs in about a minute."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from kerasbert_cli.main import main
from kerasbert_cli.quickstart import demo
from kerasbert_cli.quickstart.pipeline import (
    VALID_EVERY,
    QuickstartConfig,
    prepare_corpus,
)
from serving.export import verify_with_model_server_loader
from serving.saved_model_session import SavedModelSession

SMALL_RUN = ["--max-documents", "300", "--steps", "30", "--batch-size", "8"]


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory):
    """One small quickstart run: (exit code, work directory, summary)."""
    work = tmp_path_factory.mktemp("quickstart")
    code = main(["quickstart", "--workdir", str(work), "--no-progress", *SMALL_RUN])
    summary = json.loads((work / "summary.json").read_text())
    return code, work, summary


def masked_targets(build: Path) -> np.ndarray:
    """Every masked-token target (weight > 0) in a build, read from the records."""
    manifest = json.loads((build / "manifest.json").read_text())
    max_predictions = manifest["settings"]["max_predictions"]
    spec = {
        name: tf.io.FixedLenFeature([max_predictions], dtype)
        for name, dtype in (
            ("masked_lm_ids", tf.int64),
            ("masked_lm_weights", tf.float32),
        )
    }
    targets = []
    for record in tf.data.TFRecordDataset(sorted(map(str, build.glob("*.tfrecord")))):
        example = tf.io.parse_single_example(record, spec)
        weights = example["masked_lm_weights"].numpy()
        targets.extend(example["masked_lm_ids"].numpy()[weights > 0])
    return np.asarray(targets)


def test_quickstart_runs_every_stage(quickstart_run):
    code, work, summary = quickstart_run
    assert code == 0
    assert set(summary["stage_seconds"]) == {
        "corpus", "vocabulary", "records", "pretrain", "evaluate", "export", "serve",
    }  # fmt: skip
    assert summary["training"]["final_step"] == 30
    assert summary["examples"]["train"] > summary["examples"]["valid"] > 0
    # Pretraining learned: on held-out text the MLM beats uniform guessing over
    # the vocabulary. The baseline it reports beside its accuracy is the share
    # of all held-out masked tokens equal to the commonest training target.
    held_out = summary["held_out"]
    vocabulary = (work / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert held_out["mlm_loss"] < np.log(len(vocabulary))
    assert 0.0 < held_out["mlm_accuracy"] <= 1.0
    train_targets = masked_targets(work / "records" / "train")
    commonest = np.bincount(train_targets).argmax()
    valid_targets = masked_targets(work / "records" / "valid")
    assert valid_targets.size > summary["examples"]["valid"]  # every example
    assert held_out["mlm_unigram_baseline"] == pytest.approx(
        np.mean(valid_targets == commonest), abs=1e-12
    )
    assert (work / "pretrain" / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("fill_mask", "embedding"):
        version = work / "models" / name / "1"
        assert (version / "saved_model.pb").is_file()
        assert (version / "assets.extra" / "tf_serving_warmup_requests").is_file()
        assert (work / "models" / name / "models.config").is_file()


def test_quickstart_grpc_answers_match_the_saved_model(quickstart_run):
    _, work, summary = quickstart_run
    vocabulary = set((work / "vocab.txt").read_text(encoding="utf-8").split("\n"))
    loaded = tf.saved_model.load(str(work / "models" / "fill_mask" / "1"))
    local = loaded.signatures["serving_default"](text=tf.constant(demo.FILL_MASK_TEXTS))
    for row, answer in enumerate(summary["fill_mask"]):
        tokens = [token for token, _ in answer["candidates"]]
        probabilities = [p for _, p in answer["candidates"]]
        assert len(tokens) == 5 and set(tokens) <= vocabulary
        assert probabilities == sorted(probabilities, reverse=True)
        expected = [t.decode() for t in local["top_tokens"].numpy()[row, 0]]
        assert tokens == expected

    embedding = summary["embedding"]
    cosine = np.array(embedding["cosine"])
    assert cosine.shape == (3, 3)
    np.testing.assert_allclose(np.diag(cosine), 1.0, atol=1e-3)
    served = tf.saved_model.load(str(work / "models" / "embedding" / "1"))
    vectors = served.signatures["serving_default"](
        text=tf.constant(demo.EMBEDDING_TEXTS)
    )["embedding"].numpy()
    unit = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
    np.testing.assert_allclose(unit @ unit.T, cosine, atol=1e-3)


def test_quickstart_exports_run_under_the_model_server_loader(quickstart_run):
    """Both exported models run every signature and warmup request through
    TensorFlow's C++ LoadSavedModel (TF Serving's loader), with the outputs of
    the in-process SavedModel."""
    _, work, _ = quickstart_run
    texts = np.array([t.encode() for t in demo.FILL_MASK_TEXTS], object)
    for name in ("fill_mask", "embedding"):
        path = work / "models" / name / "1"
        expected = tf.saved_model.load(str(path)).signatures["serving_default"](
            text=tf.constant(texts)
        )
        assert verify_with_model_server_loader(path, name) == 3
        with SavedModelSession(path) as session:
            outputs = session.run("serving_default", {"text": texts})
        assert set(outputs) == set(expected)
        for key, value in outputs.items():
            if value.dtype == object:
                assert value.tolist() == expected[key].numpy().tolist()
            else:
                np.testing.assert_allclose(value, expected[key].numpy(), atol=1e-5)


def test_quickstart_reports_a_missing_corpus_file(tmp_path, capsys):
    code = main(["quickstart", "--workdir", str(tmp_path), "--corpus", "missing.txt"])
    assert code == 2
    assert "corpus file not found: missing.txt" in capsys.readouterr().err


def test_user_corpus_is_split_into_training_and_held_out_documents(tmp_path):
    corpus = tmp_path / "text.txt"
    documents = [
        [f"Document {d} sentence {s} is here." for s in range(2)] for d in range(45)
    ]
    corpus.write_text("\n\n".join("\n".join(d) for d in documents) + "\n")
    info = prepare_corpus(QuickstartConfig(corpus=(str(corpus),)), tmp_path)
    assert (info["train_documents"], info["valid_documents"]) == (43, 45 // VALID_EVERY)
    valid = (tmp_path / "corpus" / "valid.txt").read_text()
    assert "Document 19 sentence 0" in valid and "Document 39 sentence 1" in valid
    assert "Document 19" not in (tmp_path / "corpus" / "train.txt").read_text()


def test_too_small_a_corpus_is_refused(tmp_path):
    corpus = tmp_path / "text.txt"
    corpus.write_text("One sentence only.\n\nAnother document.\n")
    with pytest.raises(ValueError, match="needs at least 20"):
        prepare_corpus(QuickstartConfig(corpus=(str(corpus),)), tmp_path)
