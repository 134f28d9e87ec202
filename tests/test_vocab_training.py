"""Vocabulary training (WordPiece, SentencePiece) and tokenizer agreement."""

from __future__ import annotations

import numpy as np
import pytest
from corpus_helpers import write_corpus, write_vocab

from kerasbert.tokenizers import load_tokenizer
from tfrecords_tools.cli import main
from tfrecords_tools.tokenization import TextTokenizer
from tfrecords_tools.vocab import train_sentencepiece

TEXTS = [
    "Héllo, WORLD! s01x2 w003 can't stop.",
    "Café déjà-vu: 12.5% of 東京 users (naïve).",
    "[MASK] tokens\tand   spaces",
    "",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("vocab")
    path = write_corpus(directory / "corpus.txt", documents=150)
    with open(path, "a") as handle:
        handle.write("\n".join(TEXTS[:2]) + "\n")
    return path


def test_wordpiece_vocab_is_a_standard_bert_vocab(corpus, tmp_path):
    output = tmp_path / "vocab.txt"
    assert main(["vocab", str(corpus), "-o", str(output), "--vocab-size", "300"]) == 0
    tokens = output.read_text().splitlines()
    assert tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(set(tokens)) == len(tokens) and 100 < len(tokens) <= 300
    assert any(t.startswith("##") for t in tokens)
    pieces = [tokens[i] for i in TextTokenizer(output).tokenize(["w003 s01x2"]).ids]
    assert "[UNK]" not in pieces
    words = " ".join(pieces).replace(" ##", "")
    assert words == "w003 s01x2"  # pieces join back into the words


def test_sentencepiece_follows_the_albert_convention(corpus, tmp_path):
    model = train_sentencepiece([corpus], tmp_path / "spm.model", vocab_size=45)
    tokenizer = TextTokenizer(model)
    assert tokenizer.vocabulary[:5] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    assert (tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id) == (2, 3, 4)
    assert not {"<s>", "</s>"} & set(tokenizer.vocabulary)  # no bos / eos
    assert (tmp_path / "spm.vocab").is_file()
    assert not list(tmp_path.glob(".*"))  # no temporary files left
    batch = tokenizer.tokenize(["w003 w004 s01x2 ."])
    assert batch.ids.size > 0 and batch.ids.min() > 4
    with pytest.raises(ValueError, match="SentencePiece training failed"):
        train_sentencepiece([corpus], tmp_path / "big.model", vocab_size=100_000)
    assert not (tmp_path / "big.model").exists()


def test_missing_input_is_a_clear_error(tmp_path, capsys):
    code = main(["vocab", str(tmp_path / "none.txt"), "-o", str(tmp_path / "v.txt")])
    assert code == 2
    assert "input file not found" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["wordpiece", "sentencepiece"])
def test_builder_tokenizer_matches_kerasbert_tokenizer(corpus, tmp_path, kind):
    if kind == "wordpiece":
        path = write_vocab(tmp_path / "vocab.txt")
        with open(path, "a") as handle:  # a few real words and pieces
            handle.write(
                "\n".join(
                    [
                        "hello",
                        ",",
                        "world",
                        "!",
                        "can",
                        "'",
                        "t",
                        "stop",
                        "cafe",
                        "##s",
                        "東",
                        "京",
                        "(",
                    ]
                )
                + "\n"
            )
    else:
        path = train_sentencepiece([corpus], tmp_path / "spm.model", vocab_size=45)
    ours = TextTokenizer(path).tokenize(TEXTS)
    theirs = load_tokenizer(path).tokenize(TEXTS)
    for row in range(len(TEXTS)):
        mine = ours.ids[ours.offsets[row] : ours.offsets[row + 1]]
        assert np.array_equal(mine, theirs[row].numpy()), TEXTS[row]
