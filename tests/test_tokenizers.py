"""In-graph tokenizers and input packing, with vocabularies made by the tests."""

import numpy as np
import pytest
import tensorflow as tf
from tokenizer_helpers import train_test_sentencepiece

from kerasbert.tokenizers import (
    BertWordPieceTokenizer,
    InputPacker,
    SentencePieceTokenizer,
    load_tokenizer,
)
from kerasbert.tokenizers.make_unicode_classes import (
    bracket_expression,
    python_constant,
    ranges,
)
from kerasbert.tokenizers.packing import longest_first_lengths

VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "cafe",
    "strasse",
    "straße",
    "un",
    "##able",
    "##s",
    ",",
    ".",
    "!",
    "$",
    "3",
    "我",
    "爱",
    "hello",
    "world",
    "a",
    "##a",
]


@pytest.fixture(scope="module")
def tokenizer():
    return BertWordPieceTokenizer(VOCAB)


def ids(tokenizer, text):
    return tokenizer.tokenize(text).numpy().tolist()


def tokens(tokenizer, text):
    return [VOCAB[i] for i in ids(tokenizer, text)]


def test_basic_cleaning_splitting_and_wordpiece(tokenizer):
    assert tokens(tokenizer, "The cat sat, on the mat!") == [
        "the",
        "cat",
        "sat",
        ",",
        "on",
        "the",
        "mat",
        "!",
    ]
    assert tokens(tokenizer, "Unable cats") == ["un", "##able", "cat", "##s"]
    assert tokens(tokenizer, "$3.") == ["$", "3", "."]


def test_accents_case_and_sharp_s(tokenizer):
    assert tokens(tokenizer, "CAFÉ Café") == ["cafe", "cafe"]
    # Lowercasing keeps ß (case folding would make it "ss").
    assert tokens(tokenizer, "Straße STRASSE") == ["straße", "strasse"]


def test_cjk_control_and_invisible_characters(tokenizer):
    # Zero-width space is a format character: removed, so it joins "c" "at".
    assert tokens(tokenizer, "我爱the c\u200bat") == ["我", "爱", "the", "cat"]
    assert tokens(tokenizer, "c\u00adat\x07") == ["cat"]
    assert tokens(tokenizer, "the\u00a0cat\tsat\nmat") == ["the", "cat", "sat", "mat"]


def test_nul_and_characters_newer_than_the_reference_tables(tokenizer):
    # NUL is removed like other control characters, and does not end the text.
    assert tokens(tokenizer, "c\x00at the") == ["cat", "the"]
    # A NUL inside a special token keeps it from matching, as on the raw text.
    assert tokens(tokenizer, "[MA\x00SK]") == ["[UNK]", "[UNK]", "[UNK]"]
    # Newer punctuation (NEWA DANDA, OBLIQUE HYPHEN), a newer mark and an
    # ideograph outside the reference's CJK ranges all stay inside the word.
    for character in "\U0001144b\u2e5d\u08d3\U0002b820":
        assert tokens(tokenizer, f"the{character}cat") == ["[UNK]"], character
    assert tokens(tokenizer, "the\U0002b920cat") == ["the", "[UNK]", "cat"]


def test_special_tokens_in_text_are_single_tokens(tokenizer):
    assert tokens(tokenizer, "the [MASK] sat") == ["the", "[MASK]", "sat"]
    assert tokens(tokenizer, "hello[MASK]world") == ["hello", "[MASK]", "world"]
    # Only the exact spelling is special; lowercase text is split as usual.
    assert tokens(tokenizer, "[mask]") == ["[UNK]", "[UNK]", "[UNK]"]


def test_unknown_and_over_long_words(tokenizer):
    assert tokens(tokenizer, "zebra") == ["[UNK]"]
    assert tokens(tokenizer, "a" * 100) == ["a"] + ["##a"] * 99
    assert tokens(tokenizer, "a" * 101) == ["[UNK]"]


def test_empty_batch_shapes_and_invalid_utf8(tokenizer):
    result = tokenizer.tokenize(["the cat", "", "   "])
    assert result.to_list() == [[5, 6], [], []]
    assert result.dtype == tf.int32
    assert ids(tokenizer, tf.constant(b"the \xff\xfecat")) == [5, 6]


def test_bad_inputs_are_rejected(tokenizer, tmp_path):
    with pytest.raises(TypeError, match="strings"):
        tokenizer.tokenize(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="rank-1"):
        tokenizer.tokenize([["a"], ["b"]])
    with pytest.raises(FileNotFoundError):
        BertWordPieceTokenizer(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        BertWordPieceTokenizer(empty)
    with pytest.raises(ValueError, match="special tokens"):
        BertWordPieceTokenizer(["the", "cat"])
    with pytest.raises(ValueError, match="duplicate"):
        BertWordPieceTokenizer([*VOCAB, "cat"])
    with pytest.raises(KeyError):
        tokenizer.token_to_id("zebra")
    with pytest.raises(KeyError, match="outside"):
        tokenizer.id_to_token(-1)
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes("\r\n".join([*VOCAB, "x\u2028y"]).encode())
    assert BertWordPieceTokenizer(crlf).vocabulary == [*VOCAB, "x\u2028y"]
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("\n".join([*VOCAB, "caf"]).encode() + b"\xe9\n")
    with pytest.raises(ValueError, match="UTF-8"):
        BertWordPieceTokenizer(latin1)


def test_vocab_file_and_config_round_trip(tokenizer, tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    from_file = load_tokenizer(path)
    assert from_file.vocabulary == VOCAB
    clone = BertWordPieceTokenizer.from_config(tokenizer.get_config())
    text = ["the cat sat on the mat", "hello world"]
    assert clone.tokenize(text).to_list() == from_file.tokenize(text).to_list()
    assert (
        tokenizer.cls_id,
        tokenizer.sep_id,
        tokenizer.pad_id,
        tokenizer.mask_id,
    ) == (2, 3, 0, 4)


def test_works_in_tf_function_and_tf_data(tokenizer):
    packer = InputPacker.for_tokenizer(tokenizer, 8)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def encode(text):
        return packer(tokenizer.tokenize(text))

    expected = encode(tf.constant(["the cat", "hello world"]))["input_ids"].numpy()
    dataset = tf.data.Dataset.from_tensor_slices(["the cat", "hello world"]).batch(2)
    from_data = next(iter(dataset.map(lambda t: packer(tokenizer.tokenize(t)))))
    np.testing.assert_array_equal(from_data["input_ids"], expected)
    assert from_data["input_ids"].shape == (2, 8)


def test_saved_model_round_trip(tokenizer, tmp_path):
    module = tf.Module()
    module.tokenizer = tokenizer
    module.packer = InputPacker.for_tokenizer(tokenizer, 8)
    module.encode = tf.function(
        lambda text: module.packer(module.tokenizer.tokenize(text)),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    tf.saved_model.save(module, str(tmp_path / "model"))
    restored = tf.saved_model.load(str(tmp_path / "model"))
    text = tf.constant(["the [MASK] sat", "我爱 hello"])
    for key, value in restored.encode(text).items():
        np.testing.assert_array_equal(value, module.encode(text)[key])


def test_packing_single_and_pairs(tokenizer):
    packer = InputPacker(8, cls_id=2, sep_id=3, pad_id=0)
    single = packer(tf.ragged.constant([[5, 6], [5, 6, 7, 8, 9, 10, 11]]))
    assert single["input_ids"].numpy().tolist() == [
        [2, 5, 6, 3, 0, 0, 0, 0],
        [2, 5, 6, 7, 8, 9, 10, 3],
    ]
    assert single["input_mask"].numpy().tolist()[0] == [1, 1, 1, 1, 0, 0, 0, 0]
    pair = packer(tf.ragged.constant([[5, 6, 7, 8]]), tf.ragged.constant([[9, 10]]))
    assert pair["input_ids"].numpy().tolist() == [[2, 5, 6, 7, 3, 9, 10, 3]]
    assert pair["segment_ids"].numpy().tolist() == [[0, 0, 0, 0, 0, 1, 1, 1]]
    assert pair["input_ids"].dtype == tf.int32
    with pytest.raises(ValueError, match="at least 3"):
        InputPacker(2, 2, 3, 0)
    with pytest.raises(ValueError, match="at least 5"):
        InputPacker(4, 2, 3, 0)(tf.ragged.constant([[5]]), tf.ragged.constant([[6]]))
    dense = packer(tf.constant([[5, 6]], tf.int64), tf.constant([[7]]))
    assert dense["input_ids"].numpy().tolist() == [[2, 5, 6, 3, 7, 3, 0, 0]]
    with pytest.raises(ValueError, match="batch of id rows"):
        packer(tokenizer.tokenize("the cat"))
    with pytest.raises(TypeError, match="integer"):
        packer(tf.ragged.constant([[1.0]]))


@pytest.mark.parametrize(
    "first, second, budget, expected",
    [
        (3, 2, 10, (3, 2)),  # fits
        (8, 2, 6, (4, 2)),  # short one fits in half: long gets the rest
        (2, 8, 6, (2, 4)),
        (5, 5, 7, (3, 4)),  # tie: second gets the odd token
        (9, 6, 7, (4, 3)),  # both over half: longer gets the odd token
    ],
)
def test_longest_first_lengths(first, second, budget, expected):
    kept = longest_first_lengths(
        tf.constant([first], tf.int64), tf.constant([second], tf.int64), budget
    )
    assert (int(kept[0][0]), int(kept[1][0])) == expected


@pytest.fixture(scope="module")
def sentencepiece_model(tmp_path_factory):
    words = [
        "river",
        "stone",
        "light",
        "garden",
        "window",
        "quiet",
        "morning",
        "bridge",
    ]
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(words, size=6)) for _ in range(300)]
    return train_test_sentencepiece(tmp_path_factory.mktemp("spm"), lines, 30)


def test_sentencepiece_tokenizer(sentencepiece_model):
    tokenizer = load_tokenizer(sentencepiece_model)
    assert isinstance(tokenizer, SentencePieceTokenizer)
    assert (tokenizer.pad_id, tokenizer.unk_id) == (0, 1)
    result = tokenizer.tokenize(["River STONE", ""])
    assert result.dtype == tf.int32 and result.to_list()[1] == []
    assert tokenizer.detokenize(result[:1]).numpy()[0] == b"river stone"
    clone = SentencePieceTokenizer.from_config(tokenizer.get_config())
    assert clone.tokenize("quiet morning").numpy().tolist() == (
        tokenizer.tokenize("quiet morning").numpy().tolist()
    )
    # NUL and invalid bytes are dropped without losing the text after them.
    assert tokenizer.tokenize(b"river\x00 \xffstone").numpy().tolist() == (
        tokenizer.tokenize("river stone").numpy().tolist()
    )
    assert tokenizer.id_to_token(tokenizer.mask_id) == "[MASK]"
    with pytest.raises(KeyError, match="outside"):
        tokenizer.id_to_token(tokenizer.vocabulary_size)
    with pytest.raises(ValueError, match="SentencePiece"):
        SentencePieceTokenizer(b"not a model")
    with pytest.raises(FileNotFoundError):
        load_tokenizer("/nonexistent/spm.model")


def test_unicode_class_generation_helpers():
    points = [0x41, 0x42, 0x43, 0x2E, 0x1144B]
    assert ranges(points) == [(0x2E, 0x2E), (0x41, 0x43), (0x1144B, 0x1144B)]
    expression = bracket_expression(points)
    assert expression == r"[\x{2E}\x{41}-\x{43}\x{1144B}]"
    # The class matches exactly its code points, in TensorFlow's RE2.
    probe = [chr(c) for c in (0x2D, 0x2E, 0x41, 0x43, 0x44, 0x1144B, 0x1144C)]
    matched = tf.strings.regex_full_match(probe, expression).numpy().tolist()
    assert matched == [False, True, True, True, False, True, False]
    wide = bracket_expression(range(0, 4000, 2))
    source = python_constant("WIDE", "every even code point below 4000", wide)
    assert max(len(line) for line in source.splitlines()) <= 88
    namespace: dict = {}
    exec(source, namespace)
    assert namespace["WIDE"] == wide
