"""SQuAD windows, answer labels and n-best decoding.

Windows and labels are checked against Hugging Face's fast BERT tokenizer (built
here from a small vocabulary file, no download) on generated (question, context)
pairs whose lengths sit on and around the window boundaries; decoding is checked
on hand-built logits and on generated examples.
"""

import json
import random

import numpy as np
import pytest

from kerasbert.finetuning.squad_decoding import decode_answers
from kerasbert.finetuning.squad_windows import Window, answer_positions, make_windows

# ---------------------------------------------------------------------------
# A small WordPiece vocabulary and a text generator over it.

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# fmt: off
WORDS = [
    "the", "of", "and", "to", "in", "is", "was", "for", "on", "that", "with", "as",
    "by", "at", "from", "his", "her", "it", "an", "city", "river", "king", "war",
    "year", "music", "film", "team", "game", "school", "church", "world", "state",
    "new", "first", "early", "later", "north", "south", "long", "high", "old",
    "great",
]
# fmt: on
LETTERS = list("abcdefghijklmnopqrstuvwxyz")
PIECES = ["##" + c for c in LETTERS] + ["##ing", "##ed", "##s", "##er", "##ly"]
PUNCT = list(".,;:?!'()-\"")
VOCAB = SPECIALS + WORDS + LETTERS + PIECES + PUNCT + list("0123456789")
# Out-of-vocabulary words: letter pieces, accents folded by the normalizer, [UNK].
OOV = ["kingdom", "rivers", "playing", "zebra", "café", "naïve", "Straße", "€uro"]


def _random_word(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.6:
        word = rng.choice(WORDS)
    elif pick < 0.8:
        word = rng.choice(OOV)
    elif pick < 0.9:
        word = str(rng.randint(0, 2000))
    else:
        word = rng.choice(WORDS).capitalize()
    if rng.random() < 0.15:
        word += rng.choice(PUNCT)
    return word


def _random_text(rng: random.Random, num_words: int) -> str:
    separators = [" "] * 12 + ["  ", "\n", " \t "]
    text = ""
    for index in range(num_words):
        if index:
            text += rng.choice(separators)
        text += _random_word(rng)
    return text


@pytest.fixture(scope="module")
def hf_tokenizer(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    directory = tmp_path_factory.mktemp("vocab")
    (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast.from_pretrained(
        str(directory), do_lower_case=True, local_files_only=True
    )
    assert tokenizer.convert_tokens_to_ids("[CLS]") == VOCAB.index("[CLS]")
    return tokenizer


def _ids(tokenizer) -> dict[str, int]:
    return {
        "cls_id": tokenizer.cls_token_id,
        "sep_id": tokenizer.sep_token_id,
        "pad_id": tokenizer.pad_token_id,
    }


def _segment(tokenizer, texts: list[str]) -> list[tuple[list[int], list]]:
    """HF's own per-segment ids and offsets (no special tokens)."""
    encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    return list(zip(encoded["input_ids"], encoded["offset_mapping"], strict=True))


def _cut_at_token(text: str, ids: list[int], offsets: list, n: int, tokenizer):
    """``text`` cut after about ``n`` tokens, at a word end so it retokenizes the same.

    Returns the prefix and its token count (the largest count <= ``n`` at which
    the next token does not continue a word).
    """
    while n > 0 and n < len(ids):
        following = tokenizer.convert_ids_to_tokens(ids[n])
        if not following.startswith("##"):
            break
        n -= 1
    n = min(n, len(ids))
    return (text[: offsets[n - 1][1]] if n else ""), n


# (max_seq_length, doc_stride, max_query_length)
CONFIGS = [(16, 0, 5), (16, 3, 5), (16, 7, 5), (12, 1, 3), (20, 6, 6), (32, 10, 8)]


def _generated_pairs(tokenizer, config, seed):
    """(question, context) pairs with context lengths around window boundaries."""
    max_seq_length, doc_stride, max_query_length = config
    rng = random.Random(seed)
    long_text = _random_text(rng, 400)
    long_ids, long_offsets = _segment(tokenizer, [long_text])[0]
    pairs, lengths = [], []
    for question_length in range(1, max_query_length + 1):
        question_words = _random_text(rng, max_query_length + 3)
        q_ids, q_offsets = _segment(tokenizer, [question_words])[0]
        question, question_length = _cut_at_token(
            question_words, q_ids, q_offsets, question_length, tokenizer
        )
        if question_length == 0:
            continue
        chunk = max_seq_length - question_length - 3
        step = chunk - doc_stride
        targets = {0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk}
        for k in (1, 2, 3):
            targets |= {chunk + k * step - 1, chunk + k * step, chunk + k * step + 1}
        targets |= {rng.randint(1, 8 * chunk) for _ in range(3)}
        for target in sorted(t for t in targets if t >= 0):
            start = rng.randint(0, 40)  # start at a word: after a space
            start = long_text.find(" ", start) + 1
            text = long_text[start:]
            ids, offsets = _segment(tokenizer, [text])[0]
            context, length = _cut_at_token(text, ids, offsets, target, tokenizer)
            pairs.append((question, context))
            lengths.append((question_length, length))
    return pairs, lengths


def _hf_windows(tokenizer, pairs, config):
    max_seq_length, doc_stride, _ = config
    return tokenizer(
        [q for q, _ in pairs],
        [c for _, c in pairs],
        truncation="only_second",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )


def _our_windows(tokenizer, question, context, config):
    max_seq_length, doc_stride, max_query_length = config
    (q_ids, _), (c_ids, c_offsets) = _segment(tokenizer, [question, context])
    return make_windows(
        q_ids,
        c_ids,
        [tuple(o) for o in c_offsets],
        max_seq_length=max_seq_length,
        doc_stride=doc_stride,
        max_query_length=max_query_length,
        **_ids(tokenizer),
    )


@pytest.fixture(
    scope="module", params=CONFIGS, ids=lambda c: "msl{}-ds{}-mq{}".format(*c)
)
def parity_case(request, hf_tokenizer):
    """(config, pairs, our windows per pair, HF encoding, HF rows per pair)."""
    config = request.param
    pairs, lengths = _generated_pairs(hf_tokenizer, config, seed=sum(config))
    encoded = _hf_windows(hf_tokenizer, pairs, config)
    rows: list[list[int]] = [[] for _ in pairs]
    for row, sample in enumerate(encoded["overflow_to_sample_mapping"]):
        rows[sample].append(row)
    ours = [_our_windows(hf_tokenizer, q, c, config) for q, c in pairs]
    return config, pairs, lengths, ours, encoded, rows


# ---------------------------------------------------------------------------
# make_windows


def _reference_max_context(spans: list[tuple[int, int]], span_index: int, position):
    """Google BERT's ``_check_is_max_context``, over (start, length) spans."""
    best_score, best_index = None, None
    for index, (start, length) in enumerate(spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best_index = score, index
    return best_index == span_index


def test_windows_match_hugging_face(parity_case):
    config, pairs, lengths, ours, encoded, rows = parity_case
    max_seq_length = config[0]
    compared = 0
    for pair_index, windows in enumerate(ours):
        assert len(windows) == len(rows[pair_index]), (pairs[pair_index], lengths)
        for window, row in zip(windows, rows[pair_index], strict=True):
            np.testing.assert_array_equal(window.input_ids, encoded["input_ids"][row])
            np.testing.assert_array_equal(
                window.segment_ids, encoded["token_type_ids"][row]
            )
            np.testing.assert_array_equal(
                window.input_mask, encoded["attention_mask"][row]
            )
            sequence_ids = encoded.sequence_ids(row)
            is_context = np.array([s == 1 for s in sequence_ids])
            np.testing.assert_array_equal(window.context_mask, is_context)
            offsets = np.array(encoded["offset_mapping"][row])
            np.testing.assert_array_equal(
                window.token_offsets[is_context], offsets[is_context]
            )
            assert (window.token_offsets[~is_context] == -1).all()
            if is_context.any():
                assert window.context_start == int(np.argmax(is_context))
            assert window.input_ids.dtype == np.int32
            assert window.token_offsets.shape == (max_seq_length, 2)
            assert window.token_offsets.dtype == np.int64
            assert window.max_context.dtype == np.bool_
            compared += 1
    # The generated lengths do hit the boundaries, and windows overflow.
    assert any(len(w) == 1 for w in ours) and max(len(w) for w in ours) >= 4
    past_one_window = {c - (max_seq_length - q - 3) for q, c in lengths}
    assert {-1, 0, 1} <= past_one_window
    assert compared > 100


def test_max_context_matches_reference(parity_case):
    _, _, _, ours, _, _ = parity_case
    for windows in ours:
        spans = [(w.chunk_start, w.num_context_tokens) for w in windows]
        covered = np.zeros(sum(n for _, n in spans) + 1, int)
        for index, window in enumerate(windows):
            for position in np.flatnonzero(window.context_mask):
                token = window.chunk_start + position - window.context_start
                expected = _reference_max_context(spans, index, token)
                assert window.max_context[position] == expected
                covered[token] += expected
            assert not window.max_context[~window.context_mask].any()
        # Every context token is "max context" in exactly one window.
        total = spans[-1][0] + spans[-1][1]
        assert (covered[:total] == 1).all()


def test_question_is_truncated_to_max_query_length(hf_tokenizer):
    question = "the king of the north city and the old river was new"
    context = "the music of the world " * 6
    (q_ids, _), (c_ids, c_offsets) = _segment(hf_tokenizer, [question, context])
    options = dict(max_seq_length=20, doc_stride=2, max_query_length=4)
    options.update(_ids(hf_tokenizer))
    full = make_windows(q_ids, c_ids, c_offsets, **options)
    cut = make_windows(q_ids[:4], c_ids, c_offsets, **options)
    assert len(full) == len(cut) > 1
    for a, b in zip(full, cut, strict=True):
        np.testing.assert_array_equal(a.input_ids, b.input_ids)
        assert a.context_start == 6
    assert list(full[0].input_ids[1:5]) == q_ids[:4]


def test_empty_context_gives_one_window_with_two_separators():
    (window,) = make_windows(
        [7, 8], [], [], max_seq_length=8, doc_stride=0, max_query_length=3,
        cls_id=2, sep_id=3, pad_id=0,
    )  # fmt: skip
    assert window.input_ids.tolist() == [2, 7, 8, 3, 3, 0, 0, 0]
    assert window.segment_ids.tolist() == [0, 0, 0, 0, 1, 0, 0, 0]
    assert window.context_start == 4 and window.num_context_tokens == 0


@pytest.mark.parametrize(
    "max_seq_length, doc_stride, max_query_length, message",
    [
        (16, 8, 5, "doc_stride=8 must be smaller"),
        (16, 20, 5, "doc_stride=20 must be smaller"),
        (8, 0, 5, "leaves no room"),
        (16, -1, 5, "doc_stride must be >= 0"),
        (16, 0, 0, "max_query_length must be >= 1"),
    ],
)
def test_invalid_sizes_raise(max_seq_length, doc_stride, max_query_length, message):
    with pytest.raises(ValueError, match=message):
        make_windows(
            [5], [5, 6], [(0, 1), (2, 3)],
            max_seq_length=max_seq_length, doc_stride=doc_stride,
            max_query_length=max_query_length, cls_id=2, sep_id=3, pad_id=0,
        )  # fmt: skip


def test_offsets_must_match_ids():
    with pytest.raises(ValueError, match="2 context ids but 1 offsets"):
        make_windows(
            [5], [5, 6], [(0, 1)], max_seq_length=16, doc_stride=1,
            max_query_length=4, cls_id=2, sep_id=3, pad_id=0,
        )  # fmt: skip


# ---------------------------------------------------------------------------
# answer_positions


def _hf_run_qa_label(encoded, row, start_char, end_char):
    """Hugging Face run_qa.py's training labels, on HF's own encoding."""
    sequence_ids = encoded.sequence_ids(row)
    offsets = encoded["offset_mapping"][row]
    start = 0
    while sequence_ids[start] != 1:
        start += 1
    end = len(sequence_ids) - 1
    while sequence_ids[end] != 1:
        end -= 1
    if not (offsets[start][0] <= start_char and offsets[end][1] >= end_char):
        return 0, 0
    while start < len(offsets) and offsets[start][0] <= start_char:
        start += 1
    while offsets[end][1] >= end_char:
        end -= 1
    return start - 1, end + 1


def test_answer_positions_match_run_qa_labels(parity_case):
    config, pairs, _, ours, encoded, rows = parity_case
    rng = random.Random(7)
    compared = inside = run_qa_overrun = 0
    for pair_index, (_, context) in enumerate(pairs):
        if not context.strip():
            continue
        for _ in range(6):
            start_char = rng.randrange(len(context))
            end_char = min(len(context), start_char + rng.randint(1, 25))
            for window, row in zip(ours[pair_index], rows[pair_index], strict=True):
                if not window.context_mask.any():
                    continue
                expected = _hf_run_qa_label(encoded, row, start_char, end_char)
                actual = answer_positions(window, start_char, end_char)
                context_positions = np.flatnonzero(window.context_mask)
                if expected[0] > context_positions[-1]:
                    # run_qa's start search ran through [SEP] and padding, whose
                    # offsets are (0, 0): the answer starts in the last token.
                    run_qa_overrun += 1
                    expected = (int(context_positions[-1]), expected[1])
                assert actual == expected, (context, start_char, end_char)
                compared += 1
                inside += actual != (0, 0)
    assert compared > 200 and inside > 50 and run_qa_overrun > 0


def test_answer_positions_mid_token_and_outside():
    # context "playing kings." -> play ##ing king ##s .
    context_offsets = [(0, 4), (4, 7), (8, 12), (12, 13), (13, 14)]
    windows = make_windows(
        [9], [10, 11, 12, 13, 14], context_offsets, max_seq_length=6, doc_stride=1,
        max_query_length=1, cls_id=2, sep_id=3, pad_id=0,
    )  # fmt: skip
    # chunks of 2 tokens stepping by 1: [0,2) [1,3) [2,4) [3,5)
    assert [w.chunk_start for w in windows] == [0, 1, 2, 3]
    first, second, third, _ = windows
    assert first.context_start == 3
    assert answer_positions(first, 5, 6) == (4, 4)  # "in" inside "##ing"
    assert answer_positions(first, 2, 6) == (3, 4)  # "aying": both tokens
    assert answer_positions(first, 0, 7) == (3, 4)
    assert answer_positions(first, 8, 10) == (0, 0)  # "ki": not in this window
    assert answer_positions(second, 7, 9) == (3, 4)  # space then "k": ##ing, king
    assert answer_positions(third, 9, 13) == (3, 4)  # "ings"
    assert answer_positions(third, 13, 14) == (0, 0)  # "." is in the last window
    assert answer_positions(first, 3, 3) == (0, 0)  # empty span


# ---------------------------------------------------------------------------
# decode_answers on hand-built logits

# 20 one-word tokens "w0 w1 ... w19"; question of 2 tokens; 12-token windows:
# chunks of 7 tokens, stride 3 (step 4): [0,7) [4,11) [8,15) [12,19) [16,20).
WORDS_20 = [f"w{i}" for i in range(20)]
CONTEXT_20 = " ".join(WORDS_20)


def _offsets_20() -> list[tuple[int, int]]:
    offsets, position = [], 0
    for word in WORDS_20:
        offsets.append((position, position + len(word)))
        position += len(word) + 1
    return offsets


@pytest.fixture()
def windows_20() -> list[Window]:
    return make_windows(
        [30, 31], list(range(100, 120)), _offsets_20(), max_seq_length=12,
        doc_stride=3, max_query_length=2, cls_id=2, sep_id=3, pad_id=0,
    )  # fmt: skip


def _logits(windows, marks, background=-10.0):
    """``background`` logits but for ``marks``: {(window, token, side): value}.

    ``token`` indexes the whole context; ``side`` is "start" or "end".
    """
    start = np.full((len(windows), 12), background, np.float32)
    end = np.full((len(windows), 12), background, np.float32)
    for (index, token, side), value in marks.items():
        position = windows[index].context_start + token - windows[index].chunk_start
        (start if side == "start" else end)[index, position] = value
    return start, end


def _decode(windows, start, end, **options):
    return decode_answers([("q", windows)], start, end, {"q": CONTEXT_20}, **options)


def test_windows_20_layout(windows_20):
    assert [(w.chunk_start, w.num_context_tokens) for w in windows_20] == [
        (0, 7), (4, 7), (8, 7), (12, 7), (16, 4),
    ]  # fmt: skip
    # Token 5: min(5,1)+.07 in window 0 ties min(1,5)+.07 in window 1 -> window 0.
    # Token 6: min(6,0) in window 0 < min(2,4) in window 1 -> window 1.
    assert all(w.context_start == 4 for w in windows_20)
    assert windows_20[0].max_context[4 + 5] and not windows_20[1].max_context[4 + 1]
    assert not windows_20[0].max_context[4 + 6] and windows_20[1].max_context[4 + 2]


def test_answer_in_the_overlap_is_proposed_once(windows_20):
    marks = {}
    for index in (0, 1):  # tokens 5..6 are in windows 0 and 1
        marks[index, 5, "start"] = 5.0
        marks[index, 6, "end"] = 4.0
    predictions, n_best, null_odds = _decode(windows_20, *_logits(windows_20, marks))
    assert predictions == {"q": "w5 w6"} and null_odds == {}
    texts = [entry["text"] for entry in n_best["q"]]
    assert texts.count("w5 w6") == 1
    best = n_best["q"][0]
    assert best["score"] == 9.0 and (best["char_start"], best["char_end"]) == (
        CONTEXT_20.index("w5"), CONTEXT_20.index("w6") + 2,
    )  # fmt: skip


def test_overlap_prefers_the_max_context_window(windows_20):
    # Window 0 scores "w6" higher, but token 6 has its max context in window 1.
    marks = {(0, 6, "start"): 9.0, (0, 6, "end"): 9.0}
    marks |= {(1, 6, "start"): 3.0, (1, 6, "end"): 3.0}
    predictions, n_best, _ = _decode(windows_20, *_logits(windows_20, marks))
    assert predictions["q"] == "w6"
    assert n_best["q"][0]["score"] == 6.0
    assert all(entry["score"] < 18.0 for entry in n_best["q"])


def test_answer_crossing_a_window_edge_is_found_in_the_window_holding_it(windows_20):
    # "w10 w11 w12" starts in window 1 ([4,11)) but ends past it; token 10 has
    # its max context in window 2 ([8,15)), which holds the whole answer.
    # Window 1's stronger "w10" is not a candidate.
    marks = {(1, 10, "start"): 5.0, (1, 10, "end"): 5.0}
    marks |= {(2, 10, "start"): 4.0, (2, 12, "end"): 4.0}
    predictions, n_best, _ = _decode(windows_20, *_logits(windows_20, marks))
    assert predictions["q"] == "w10 w11 w12"
    assert n_best["q"][0]["score"] == 8.0
    assert all(entry["score"] < 10.0 for entry in n_best["q"])


def test_max_answer_length(windows_20):
    marks = {(0, 0, "start"): 5.0, (0, 6, "end"): 5.0}  # 7 tokens: 10
    marks |= {(0, 1, "start"): 1.0, (0, 2, "end"): 2.0}  # (0, 2): 7, (1, 6): 6
    logits = _logits(windows_20, marks)
    assert _decode(windows_20, *logits, max_answer_length=7)[0]["q"] == (
        "w0 w1 w2 w3 w4 w5 w6"
    )
    assert _decode(windows_20, *logits, max_answer_length=6)[0]["q"] == "w0 w1 w2"


def test_end_before_start_is_rejected(windows_20):
    marks = {(2, 13, "start"): 9.0, (2, 11, "end"): 9.0}  # 18, but end < start
    marks |= {(2, 10, "start"): 2.0, (2, 14, "end"): 1.0}
    predictions, n_best, _ = _decode(windows_20, *_logits(windows_20, marks))
    # Valid pairs: (13, 14) = 10, (10, 11) = 11, (10, 14) = 3.
    assert predictions["q"] == "w10 w11"
    assert n_best["q"][0]["score"] == 11.0
    assert all(entry["char_start"] <= entry["char_end"] for entry in n_best["q"])


def test_n_best_is_sorted_with_softmax_probabilities(windows_20):
    rng = np.random.default_rng(0)
    start = rng.normal(size=(5, 12)).astype(np.float32)
    end = rng.normal(size=(5, 12)).astype(np.float32)
    _, n_best, _ = _decode(windows_20, start, end, n_best_size=5)
    entries = n_best["q"]
    assert 0 < len(entries) <= 5
    scores = np.array([entry["score"] for entry in entries])
    assert (np.diff(scores) <= 0).all()
    probabilities = np.array([entry["probability"] for entry in entries])
    expected = np.exp(scores - scores.max())
    np.testing.assert_allclose(probabilities, expected / expected.sum(), rtol=1e-6)
    for entry in entries:
        assert CONTEXT_20[entry["char_start"] : entry["char_end"]] == entry["text"]
        assert entry["score"] == pytest.approx(
            entry["start_logit"] + entry["end_logit"]
        )
    json.dumps(n_best)  # plain Python types only


def test_v2_null_answer_and_threshold(windows_20):
    marks = {(3, 15, "start"): 4.0, (3, 16, "end"): 3.0}  # "w15 w16": 7
    start, end = _logits(windows_20, marks)
    start[:, 0] = [9.0, 6.0, 8.0, 2.5, 7.0]  # [CLS]
    end[:, 0] = [9.0, 6.0, 8.0, 3.0, 7.0]
    # null score: minimum over windows: 5.5 in window 3; 5.5 - 7 = -1.5
    predictions, n_best, null_odds = _decode(windows_20, start, end, version_2=True)
    assert null_odds["q"] == pytest.approx(-1.5)
    assert predictions["q"] == "w15 w16"  # -1.5 <= 0
    null = [entry for entry in n_best["q"] if entry["text"] == ""]
    assert len(null) == 1 and null[0]["score"] == pytest.approx(5.5)
    assert (null[0]["start_logit"], null[0]["char_start"]) == (2.5, -1)
    for threshold, expected in [(-1.4, "w15 w16"), (-1.5, "w15 w16"), (-1.6, "")]:
        predictions, _, _ = _decode(
            windows_20, start, end, version_2=True, null_score_diff_threshold=threshold
        )
        assert predictions["q"] == expected, threshold
    # Null above the best span: "" at the default threshold.
    start[3, 0] = 6.0
    predictions, _, null_odds = _decode(windows_20, start, end, version_2=True)
    assert predictions["q"] == "" and null_odds["q"] == pytest.approx(2.0)
    predictions, _, _ = _decode(
        windows_20, start, end, version_2=True, null_score_diff_threshold=2.5
    )
    assert predictions["q"] == "w15 w16"


def test_v2_keeps_the_null_answer_in_a_full_n_best(windows_20):
    rng = np.random.default_rng(1)
    start = rng.normal(size=(5, 12)).astype(np.float32)
    end = rng.normal(size=(5, 12)).astype(np.float32)
    start[:, 0] = end[:, 0] = -50.0
    _, n_best, _ = _decode(windows_20, start, end, n_best_size=3, version_2=True)
    assert len(n_best["q"]) == 4 and n_best["q"][-1]["text"] == ""


def test_no_candidates():
    # Every top position is [CLS] or the question: no span at all.
    windows = make_windows(
        [5, 6], [7], [(0, 1)], max_seq_length=8, doc_stride=0, max_query_length=2,
        cls_id=2, sep_id=3, pad_id=0,
    )  # fmt: skip
    start = np.array([[9.0, 8.0, 7.0, 0.0, -9.0, 0.0, 0.0, 0.0]])
    predictions, n_best, null_odds = decode_answers(
        [("a", windows)], start, start, {"a": "x"}, n_best_size=2
    )
    assert predictions == {"a": ""} and n_best == {"a": []} and null_odds == {}
    predictions, n_best, null_odds = decode_answers(
        [("a", windows)], start, start, {"a": "x"}, n_best_size=2, version_2=True
    )
    assert predictions == {"a": ""} and null_odds == {"a": float("inf")}
    assert [entry["text"] for entry in n_best["a"]] == [""]
    assert n_best["a"][0]["probability"] == 1.0


def test_logit_rows_must_match_windows(windows_20):
    start = np.zeros((4, 12))
    with pytest.raises(ValueError, match="4 logit rows for 5 windows"):
        _decode(windows_20, start, start)
    with pytest.raises(ValueError, match="no windows"):
        decode_answers([("q", [])], np.zeros((0, 12)), np.zeros((0, 12)), {})


# ---------------------------------------------------------------------------
# decode_answers on generated examples: argmax logits at the true span


def test_argmax_logits_reproduce_the_answer(hf_tokenizer):
    config = (24, 5, 6)
    max_seq_length, doc_stride, max_query_length = config
    rng = random.Random(3)
    examples, all_windows, starts, ends, expected = [], [], [], [], {}
    for index in range(60):
        question = _random_text(rng, rng.randint(1, 4))
        context = _random_text(rng, rng.randint(3, 90))
        (c_ids, c_offsets) = _segment(hf_tokenizer, [context])[0]
        if not c_ids:
            continue
        # A span of whole tokens, or one starting/ending mid-token.
        first = rng.randrange(len(c_ids))
        last = min(len(c_ids) - 1, first + rng.randint(0, 4))
        answer_start, answer_end = c_offsets[first][0], c_offsets[last][1]
        if rng.random() < 0.3 and answer_end - answer_start > 2:
            answer_start += 1
            answer_end -= 1
        windows = _our_windows(hf_tokenizer, question, context, config)
        noise = np.random.default_rng(index).normal(
            scale=0.1, size=(2, len(windows), max_seq_length)
        )
        start, end = noise[0], noise[1]
        labelled = False
        for row, window in enumerate(windows):
            s, e = answer_positions(window, answer_start, answer_end)
            if (s, e) == (0, 0):
                continue
            start[row, s] += 10.0
            end[row, e] += 10.0
            labelled |= bool(window.max_context[s])
        if not labelled:
            continue  # no window holds the whole answer where its start is best
        example_id = f"e{index}"
        examples.append((example_id, windows))
        all_windows.append((context, c_offsets))
        starts.append(start)
        ends.append(end)
        token_start = max(i for i, o in enumerate(c_offsets) if o[0] <= answer_start)
        token_end = min(i for i, o in enumerate(c_offsets) if o[1] >= answer_end)
        expected[example_id] = context[
            c_offsets[token_start][0] : c_offsets[token_end][1]
        ]
        if answer_start == c_offsets[first][0] and answer_end == c_offsets[last][1]:
            assert expected[example_id] == context[answer_start:answer_end]
    assert len(examples) > 40 and sum(len(w) for _, w in examples) > 100
    contexts = {
        eid: ctx for (eid, _), (ctx, _) in zip(examples, all_windows, strict=True)
    }
    for version_2 in (False, True):
        predictions, n_best, null_odds = decode_answers(
            examples,
            np.concatenate(starts),
            np.concatenate(ends),
            contexts,
            version_2=version_2,
        )
        assert predictions == expected
        assert all(n_best[eid][0]["text"] == expected[eid] for eid in expected)
        if version_2:
            assert all(odds < -10.0 for odds in null_odds.values())
