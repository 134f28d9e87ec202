"""STS evaluation: rank correlation, STS-file reading, embedding, the CLI."""

import argparse
import json

import keras
import numpy as np
import pytest
from model_helpers import ENCODER_H16

from kerasbert import Encoder, SentenceEncoder
from kerasbert.evaluation import (
    TextEmbedder,
    average_ranks,
    cosine_similarities,
    evaluate_sts,
    pearson,
    read_sts,
    spearman,
)
from kerasbert.tokenizers import BertWordPieceTokenizer
from kerasbert_cli.commands import evaluate_sts as evaluate_sts_command

WORDS = ["a", "an", "cutting", "dog", "guitar", "is", "man", "onion", "playing"]
WORDS += ["runs", "the", "woman"]
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]


def test_average_ranks_share_ties():
    np.testing.assert_array_equal(average_ranks([10, 20, 20, 30, 20]), [1, 3, 3, 5, 3])
    np.testing.assert_array_equal(average_ranks([3.0, 1.0, 2.0]), [3, 1, 2])


def test_spearman_matches_closed_form_without_ties():
    rng = np.random.default_rng(0)
    x, y = rng.permutation(20).astype(float), rng.permutation(20).astype(float)
    d = x - y  # x, y are already ranks 0..19
    expected = 1 - 6 * np.sum(d**2) / (20 * (20**2 - 1))
    assert spearman(x, y) == pytest.approx(expected)
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)


def test_spearman_with_ties_is_pearson_of_average_ranks():
    x = [1.0, 2.0, 2.0, 3.0]
    y = [1.0, 3.0, 2.0, 4.0]
    # ranks: x -> 1, 2.5, 2.5, 4 ; y -> 1, 3, 2, 4
    rx, ry = np.array([1, 2.5, 2.5, 4]), np.array([1, 3, 2, 4.0])
    rx, ry = rx - rx.mean(), ry - ry.mean()
    expected = rx @ ry / np.sqrt((rx @ rx) * (ry @ ry))
    assert spearman(x, y) == pytest.approx(expected)


@pytest.mark.parametrize(
    "x, y, message",
    [([1, 2], [1, 2, 3], "differ in length"), ([1, 1], [1, 2], "constant")],
)
def test_correlation_rejects_bad_input(x, y, message):
    with pytest.raises(ValueError, match=message):
        pearson(x, y)


def parse_command(module, argv):
    """Parses ``argv`` with only ``module``'s subcommand registered."""
    parser = argparse.ArgumentParser()
    module.add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def write_sts(path, rows):
    path.write_text(
        "".join(
            "\t".join(["g", "f", "2012", f"{i:04d}", *row]) + "\n"
            for i, row in enumerate(rows)
        ),
        encoding="utf-8",
    )


def test_read_sts_keeps_unbalanced_quotes_and_extra_fields(tmp_path):
    path = tmp_path / "sts.csv"
    write_sts(
        path,
        [
            ("5.000", 'He said "hi.', "He said hi."),
            ("1.250", "a dog runs", 'a "man', "extra", "fields"),
            ("0.000", "x", "y"),
        ],
    )
    pairs = read_sts(path)
    assert len(pairs) == 3
    np.testing.assert_allclose(pairs.scores, [5.0, 1.25, 0.0])
    assert pairs.first[0] == 'He said "hi.'
    assert pairs.second[1] == 'a "man'


@pytest.mark.parametrize(
    "line, message",
    [
        ("g\tf\t2012\t1\t5.0\tonly one\n", "at least 7"),
        ("g\tf\t1\t1\tfive\ta\tb\n", "not a number"),
    ],
)
def test_read_sts_rejects_malformed_lines(tmp_path, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(line, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_sts(path)


def test_cosine_similarities():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    b = np.array([[0.0, 3.0], [2.0, 2.0], [-1.0, 0.0]])
    np.testing.assert_allclose(cosine_similarities(a, b), [0.0, 1.0, -1.0])


def test_evaluate_sts_scores_a_perfect_embedding(tmp_path):
    path = tmp_path / "sts.csv"
    golds = ["0.0", "1.0", "2.5", "4.0", "5.0"]
    write_sts(path, [(g, f"s{i}", f"t{i}") for i, g in enumerate(golds)])
    pairs = read_sts(path)

    def embed(texts):
        # Pair i: cos = 1 - gold_i / 5 ... anti-correlated on purpose, so the
        # sign of the result is checked too.
        vectors = []
        for text in texts:
            angle = float(pairs.scores[int(text[1:])]) / 5 * np.pi / 2
            vectors.append(
                [1.0, 0.0] if text[0] == "s" else [np.sin(angle), np.cos(angle)]
            )
        return np.array(vectors)

    result = evaluate_sts(embed, pairs)
    assert result["spearman"] == pytest.approx(100.0)
    assert result["pairs"] == 5


def tiny_sentence_encoder(pooling="mean"):
    keras.utils.set_random_seed(0)
    encoder = Encoder(**{**ENCODER_H16, "vocabulary_size": len(VOCABULARY)})
    return encoder, SentenceEncoder(encoder, pooling=pooling)


def test_text_embedder_is_independent_of_batching_and_order():
    encoder, model = tiny_sentence_encoder()
    tokenizer = BertWordPieceTokenizer(VOCABULARY)
    texts = ["a man", "a woman is cutting an onion", "dog", "the guitar"]
    batched = TextEmbedder(model, tokenizer, encoder.input_names, 16, batch_size=3)
    single = TextEmbedder(model, tokenizer, encoder.input_names, 16, batch_size=1)
    embeddings = batched(texts)
    assert embeddings.shape == (4, ENCODER_H16["hidden_size"])
    np.testing.assert_allclose(embeddings, single(texts), atol=1e-5)
    np.testing.assert_allclose(single(texts[2:3])[0], embeddings[2], atol=1e-5)


def test_evaluate_sts_cli(tmp_path, capsys):
    _, model = tiny_sentence_encoder(pooling="cls")
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    (tmp_path / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n")
    data = tmp_path / "sts.csv"
    write_sts(
        data,
        [
            ("5.0", "a man is playing the guitar", "a man is playing the guitar"),
            ("0.5", "a dog runs", "a woman is cutting an onion"),
            ("3.0", "a man is playing", "a woman is playing"),
        ],
    )
    out = tmp_path / "result.json"
    args = parse_command(
        evaluate_sts_command,
        ["evaluate-sts", "--model", str(model_path), "--data", str(data)]
        + ["--json", str(out)],
    )
    assert args.func(args) == 0
    result = json.loads(out.read_text())
    assert result["pairs"] == 3 and result["pooling"] == "cls"
    assert -100.0 <= result["spearman"] <= 100.0
    assert "Spearman" in capsys.readouterr().out


def test_read_lines_and_model_loading_errors(tmp_path):
    from kerasbert.data import read_lines
    from kerasbert.evaluation.loading import default_vocabulary
    from kerasbert.loading import as_encoder, load

    path = tmp_path / "texts.txt"
    path.write_text("  one \n\n two\nthree\n")
    assert read_lines(path) == ["one", "two", "three"]
    assert read_lines(path, limit=2) == ["one", "two"]
    path.write_text("\n  \n")
    with pytest.raises(ValueError, match="no non-empty lines"):
        read_lines(path)
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        load(tmp_path / "missing.keras")
    with pytest.raises(TypeError, match="Encoder or task model"):
        as_encoder(keras.Sequential([keras.layers.Dense(1)]))
    with pytest.raises(FileNotFoundError, match="No --vocab"):
        default_vocabulary(tmp_path / "model.keras", None)
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    assert default_vocabulary(tmp_path / "model.keras", None) == str(
        tmp_path / "vocab.txt"
    )


def test_evaluate_sts_cli_defaults_for_a_plain_encoder(tmp_path):
    """As its --help says: mean pooling for an Encoder, vocab.txt beside --model;
    the Spearman is that of the cosines of those embeddings."""
    encoder, _ = tiny_sentence_encoder()
    encoder.save(tmp_path / "encoder.keras")
    (tmp_path / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n")
    rows = [
        ("5.0", "a man is playing the guitar", "a man is playing"),
        ("0.5", "a dog runs", "a woman is cutting an onion"),
        ("3.0", "a man is playing", "a woman is playing"),
        ("1.0", "the dog", "an onion"),
    ]
    write_sts(tmp_path / "sts.csv", rows)
    args = parse_command(
        evaluate_sts_command,
        ["evaluate-sts", "--model", str(tmp_path / "encoder.keras")]
        + ["--data", str(tmp_path / "sts.csv"), "--json", str(tmp_path / "r.json")],
    )
    assert args.func(args) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["pooling"] == "mean" and result["pairs"] == 4
    embed = TextEmbedder(
        SentenceEncoder(encoder, pooling="mean"),
        BertWordPieceTokenizer(VOCABULARY),
        encoder.input_names,
        args.sequence_length,
    )
    first, second = embed([row[1] for row in rows]), embed([row[2] for row in rows])
    cosines = np.sum(first * second, -1) / (
        np.linalg.norm(first, axis=-1) * np.linalg.norm(second, axis=-1)
    )
    gold = [float(row[0]) for row in rows]
    assert result["spearman"] == pytest.approx(100 * spearman(gold, cosines))
