"""``kerasbert.finetuning.readers``: tables, SQuAD JSON, CoNLL files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kerasbert.finetuning.readers import (
    Answer,
    SquadExample,
    TaggedSentence,
    TextTable,
    align_answer,
    discover_labels,
    read_conll,
    read_squad,
    read_squad_with_stats,
    read_table,
)

SHARED_DATA = Path("/work/shared/data")


def write(path: Path, text: str, newline: str = "\n") -> Path:
    """Writes ``text`` as UTF-8, with ``\\n`` replaced by ``newline``."""
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


# --------------------------------------------------------------------------
# read_table
# --------------------------------------------------------------------------


def test_tsv_keeps_unbalanced_quotes_and_skips_blank_lines(tmp_path):
    path = write(
        tmp_path / "train.tsv",
        'sentence\tlabel\n"a quoted start \t1\n\nit \'s "fine\t0\n  \n"x"\t1\n\n',
    )
    table = read_table(path, "sentence", "label")
    assert table == TextTable(
        texts=['"a quoted start', "it 's \"fine", '"x"'],
        pairs=None,
        labels=["1", "0", "1"],
    )
    assert len(table) == 3


def test_tsv_with_crlf_and_pair_column(tmp_path):
    path = write(
        tmp_path / "pairs.tsv",
        "id\tq1\tq2\tis_duplicate\n1\tHow?\tWhy?\t0\n2\tA\tB\t1\n",
        newline="\r\n",
    )
    table = read_table(path, "q1", "is_duplicate", "q2")
    assert table.texts == ["How?", "A"]
    assert table.pairs == ["Why?", "B"]
    assert table.labels == ["0", "1"]


def test_csv_uses_standard_quoting(tmp_path):
    path = write(
        tmp_path / "data.csv",
        'text,label\n"hello, world",pos\n"two\nlines ""quoted""",neg\nplain,pos\n',
    )
    table = read_table(path, "text", "label")
    assert table.texts == ["hello, world", 'two\nlines "quoted"', "plain"]
    assert table.labels == ["pos", "neg", "pos"]


def test_csv_error_line_counts_multiline_rows(tmp_path):
    path = write(tmp_path / "data.csv", 'text,label\n"a\nb",1\nonly-one-field\n')
    with pytest.raises(ValueError, match=r"data\.csv: line 4 has 1 fields"):
        read_table(path, "text", "label")


def test_unlabelled_table(tmp_path):
    path = write(tmp_path / "test.tsv", "index\tsentence\n0\tgood\n1\tbad\n")
    table = read_table(path, "sentence", None)
    assert table.texts == ["good", "bad"]
    assert table.labels is None and table.pairs is None


def test_jsonl_keeps_numbers_as_written(tmp_path):
    lines = [
        {"text": "a", "other": "b", "score": 5.000, "flag": True},
        {"text": "c", "other": "d", "score": 3, "flag": False},
    ]
    body = "\n".join(json.dumps(line) for line in lines).replace("5.0", "5.000")
    path = write(tmp_path / "data.jsonl", body + "\n\n")
    table = read_table(path, "text", "score", "other")
    assert table.texts == ["a", "c"]
    assert table.pairs == ["b", "d"]
    assert table.labels == ["5.000", "3"]
    assert read_table(path, "text", "flag").labels == ["true", "false"]


def test_json_array_is_accepted(tmp_path):
    path = write(
        tmp_path / "data.json", json.dumps([{"t": "x", "y": 1}, {"t": "z", "y": 0}])
    )
    assert read_table(path, "t", "y") == TextTable(["x", "z"], None, ["1", "0"])


def test_jsonl_errors_name_line_and_keys(tmp_path):
    path = write(tmp_path / "data.jsonl", '{"text": "a", "label": 1}\n{"text": "b"}\n')
    with pytest.raises(ValueError, match=r"line 2: no label key 'label'.*\['text'\]"):
        read_table(path, "text", "label")
    bad = write(tmp_path / "bad.jsonl", '{"text": "a", "label": 1}\n\n{"text": \n')
    with pytest.raises(ValueError, match=r"bad\.jsonl: line 3: not valid JSON"):
        read_table(bad, "text", "label")
    nested = write(tmp_path / "nested.jsonl", '{"text": ["a"], "label": 1}\n')
    with pytest.raises(ValueError, match="not a string or number"):
        read_table(nested, "text", "label")
    with pytest.raises(ValueError, match="must be a key name"):
        read_table(path, 0, "label")


def test_headerless_file_with_indices_and_extra_fields(tmp_path):
    path = write(
        tmp_path / "sts.csv",
        'g\tf\t2012\t0001\t5.000\tA "plane.\tA plane.\n'
        "g\tf\t2012\t0002\t0.5\tOne.\tTwo.\tnote\tnote\n",
    )
    table = read_table(path, 5, 4, 6, delimiter="\t", header=False)
    assert table.texts == ['A "plane.', "One."]
    assert table.pairs == ["A plane.", "Two."]
    assert table.labels == ["5.000", "0.5"]
    # Digit strings (as a command line gives them) work as indices too.
    assert read_table(path, "5", "4", "6", delimiter="\t", header=False) == table


def test_headerless_column_errors(tmp_path):
    path = write(tmp_path / "plain.txt", "a\t1\nb\n")
    with pytest.raises(ValueError, match="read without a header"):
        read_table(path, "text", 1, delimiter="\t", header=False)
    with pytest.raises(ValueError, match="index 2 is out of range"):
        read_table(path, 0, 2, delimiter="\t", header=False)
    with pytest.raises(ValueError, match=r"line 2 has 1 fields; .* at least 2"):
        read_table(path, 0, 1, delimiter="\t", header=False)


def test_integer_column_with_header(tmp_path):
    path = write(tmp_path / "data.tsv", "sentence\tlabel\nnice\t1\n")
    assert read_table(path, 0, 1).labels == ["1"]


def test_missing_column_lists_header_and_hints_delimiter(tmp_path):
    path = write(tmp_path / "data.tsv", "sentence\tlabel\nnice\t1\n")
    with pytest.raises(
        ValueError, match=r"no label column 'y'.*\['sentence', 'label'\]"
    ):
        read_table(path, "sentence", "y")
    tab_csv = write(tmp_path / "tabs.csv", "sentence\tlabel\nnice\t1\n")
    with pytest.raises(ValueError, match="pass delimiter='\\\\t'"):
        read_table(tab_csv, "sentence", "label")


def test_row_width_must_match_header(tmp_path):
    path = write(tmp_path / "data.tsv", "sentence\tlabel\nok\t1\nstray\ttab\t0\n")
    with pytest.raises(
        ValueError, match=r"data\.tsv: line 3 has 3 fields.*header has 2"
    ):
        read_table(path, "sentence", "label")


@pytest.mark.parametrize("body", ["", "\n\n  \n", "sentence\tlabel\n\n"])
def test_empty_files_are_errors(tmp_path, body):
    path = write(tmp_path / "empty.tsv", body)
    with pytest.raises(
        ValueError, match=r"empty\.tsv: the file (is empty|has no data)"
    ):
        read_table(path, "sentence", "label")


def test_empty_label_is_an_error(tmp_path):
    path = write(tmp_path / "data.tsv", "sentence\tlabel\nnice\t1\nbad\t \n")
    with pytest.raises(ValueError, match="line 3: the label is empty"):
        read_table(path, "sentence", "label")


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("sentence\tlabel\nok\t1\ncaf\u00e9\t0\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.tsv: line 3 is not valid UTF-8"):
        read_table(path, "sentence", "label")


def test_utf8_bom_is_dropped(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftext,label\nna\u00efve,1\n".encode())
    assert read_table(path, "text", "label").texts == ["na\u00efve"]


def test_unknown_extension_needs_a_delimiter(tmp_path):
    path = write(tmp_path / "data.txt", "a|1\n")
    with pytest.raises(ValueError, match="pass a delimiter"):
        read_table(path, "text", "label")
    table = read_table(path, 0, 1, delimiter="|", header=False)
    assert table.labels == ["1"]


def test_text_table_checks_lengths():
    with pytest.raises(ValueError, match="labels has 1 rows"):
        TextTable(["a", "b"], None, ["1"])


def test_discover_labels_orders_integers_numerically():
    assert discover_labels(["10", "2", "0", "1", "2"]) == ["0", "1", "2", "10"]
    assert discover_labels(["-1", "1", "0"]) == ["-1", "0", "1"]
    assert discover_labels(["neutral", "entailment", "contradiction"]) == [
        "contradiction",
        "entailment",
        "neutral",
    ]
    assert discover_labels(["1", "1.5", "10"]) == ["1", "1.5", "10"]  # not all ints
    assert discover_labels(["1_0", "2"]) == ["1_0", "2"]  # "1_0" is not an integer
    assert discover_labels([]) == []


# --------------------------------------------------------------------------
# read_squad
# --------------------------------------------------------------------------


def squad_file(tmp_path: Path, articles: list, version: str = "1.1") -> Path:
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"version": version, "data": articles}), "utf-8")
    return path


CONTEXT = "Paris is the capital of France. Paris has the Louvre."


def test_read_squad_v11_in_file_order(tmp_path):
    articles = [
        {
            "title": "France",
            "paragraphs": [
                {
                    "context": CONTEXT,
                    "qas": [
                        {
                            "id": "q1",
                            "question": "Capital?",
                            "answers": [
                                {"text": "Paris", "answer_start": 0},
                                {"text": "Paris", "answer_start": 32},
                            ],
                        },
                        {
                            "id": "q2",
                            "question": "Museum?",
                            "answers": [{"text": "the Louvre", "answer_start": 42}],
                        },
                    ],
                }
            ],
        },
        {
            "title": "Other",
            "paragraphs": [
                {
                    "context": "Caf\u00e9 \u00e0 Lyon.",
                    "qas": [
                        {
                            "id": "q3",
                            "question": "Where?",
                            "answers": [{"text": "Lyon", "answer_start": 7}],
                        }
                    ],
                }
            ],
        },
    ]
    examples = read_squad(squad_file(tmp_path, articles))
    assert [example.id for example in examples] == ["q1", "q2", "q3"]
    assert examples[0] == SquadExample(
        id="q1",
        title="France",
        question="Capital?",
        context=CONTEXT,
        answers=(Answer("Paris", 0), Answer("Paris", 32)),
        is_impossible=False,
    )
    assert examples[2].title == "Other"
    for example in examples:
        for answer in example.answers:
            assert example.context[answer.start : answer.end] == answer.text


def test_read_squad_v2_impossible_questions(tmp_path):
    qas = [
        {
            "id": "a",
            "question": "Capital?",
            "answers": [{"text": "Paris", "answer_start": 0}],
            "is_impossible": False,
        },
        {
            "id": "b",
            "question": "Capital of Spain?",
            "answers": [],
            "plausible_answers": [{"text": "Paris", "answer_start": 0}],
            "is_impossible": True,
        },
    ]
    articles = [{"title": "t", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]
    examples, stats = read_squad_with_stats(squad_file(tmp_path, articles, "v2.0"))
    assert [(ex.id, ex.is_impossible, ex.answers) for ex in examples] == [
        ("a", False, (Answer("Paris", 0),)),
        ("b", True, ()),
    ]
    assert stats.version == "v2.0" and stats.questions == 2


def test_read_squad_realigns_and_drops_with_counts(tmp_path):
    qas = [
        # Off by 3: moved to the nearest "Paris" (32), not the first (0).
        {
            "id": "a",
            "question": "?",
            "answers": [{"text": "Paris", "answer_start": 29}],
        },
        # One good, one not in the context at all: keeps the good one.
        {
            "id": "b",
            "question": "?",
            "answers": [
                {"text": "France", "answer_start": 24},
                {"text": "Berlin", "answer_start": 0},
            ],
        },
        # Its only answer cannot be placed: the question is dropped.
        {"id": "c", "question": "?", "answers": [{"text": "Rome", "answer_start": 3}]},
    ]
    articles = [{"title": "t", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]
    path = squad_file(tmp_path, articles)
    examples, stats = read_squad_with_stats(path)
    assert [example.id for example in examples] == ["a", "b"]
    assert examples[0].answers == (Answer("Paris", 32),)
    assert examples[1].answers == (Answer("France", 24),)
    assert (stats.realigned_answers, stats.dropped_answers) == (1, 2)
    assert stats.dropped_questions == 1
    with pytest.warns(
        UserWarning, match="moved 1 answer.*dropped 2 answer.*1 question"
    ):
        read_squad(path)


def test_align_answer():
    assert align_answer(CONTEXT, "Paris", 0) == 0
    assert align_answer(CONTEXT, "Paris", 20) == 32  # 12 away vs 20 away
    assert align_answer(CONTEXT, "Paris", 16) == 0  # tie goes to the earlier one
    assert align_answer(CONTEXT, "Paris", -5) == 0
    assert align_answer(CONTEXT, "Rome", 0) is None
    assert align_answer(CONTEXT, "", 0) is None


def test_read_squad_layout_errors(tmp_path):
    with pytest.raises(ValueError, match="top level: missing 'data'"):
        read_squad(write(tmp_path / "x.json", '{"version": "1.1"}'))
    articles = [
        {"title": "t", "paragraphs": [{"context": CONTEXT, "qas": [{"id": 1}]}]}
    ]
    with pytest.raises(ValueError, match=r"data\[0\]\.paragraphs\[0\]\.qas\[0\]\.id"):
        read_squad(squad_file(tmp_path, articles))
    duplicate = {"id": "q", "question": "?", "answers": []}
    articles = [
        {"title": "t", "paragraphs": [{"context": CONTEXT, "qas": [duplicate] * 2}]}
    ]
    with pytest.raises(ValueError, match="'q' occurs twice"):
        read_squad(squad_file(tmp_path, articles))
    with pytest.raises(ValueError, match="line 1"):
        read_squad(write(tmp_path / "broken.json", '{"data": ['))


# --------------------------------------------------------------------------
# read_conll
# --------------------------------------------------------------------------


CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
-DOCSTART- -X- -X- O
Brussels\tB-LOC



"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_read_conll(tmp_path, newline):
    sentences = read_conll(write(tmp_path / "train.txt", CONLL, newline))
    assert sentences == [
        TaggedSentence(("EU", "rejects", "German"), ("B-ORG", "O", "B-MISC")),
        TaggedSentence(("Peter", "Blackburn"), ("B-PER", "I-PER")),
        TaggedSentence(("Brussels",), ("B-LOC",)),
    ]
    assert len(sentences[0]) == 3


def test_read_conll_errors(tmp_path):
    path = write(tmp_path / "bad.txt", "EU B-ORG\nrejects\n")
    with pytest.raises(
        ValueError, match=r"bad\.txt: line 2: expected a word and a tag"
    ):
        read_conll(path)
    with pytest.raises(ValueError, match="no sentences"):
        read_conll(write(tmp_path / "empty.txt", "-DOCSTART- O\n\n\n"))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("a O\n\nM\u00fcller B-PER\n".encode("latin-1"))
    with pytest.raises(ValueError, match="line 3 is not valid UTF-8"):
        read_conll(latin)
    with pytest.raises(ValueError, match="2 words but 1 tags"):
        TaggedSentence(("a", "b"), ("O",))


# --------------------------------------------------------------------------
# Import cost and the shared data sets
# --------------------------------------------------------------------------


def test_modules_do_not_import_tensorflow():
    code = (
        "import sys\n"
        "import kerasbert.finetuning.readers, kerasbert.finetuning.metrics\n"
        "import kerasbert.finetuning.squad_metrics\n"
        "import kerasbert.finetuning.entity_metrics\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="no /work/shared/data")
def test_real_sst2_stsb_and_squad_files():
    sst2 = SHARED_DATA / "sst2"
    train = read_table(sst2 / "train.tsv", "sentence", "label")
    dev = read_table(sst2 / "dev_from_train.tsv", "sentence", "label")
    assert (len(train), train.labels.count("1")) == (53_879, 30_074)
    assert (len(dev), dev.labels.count("1")) == (13_470, 7_495)
    assert discover_labels(train.labels) == ["0", "1"]
    assert train.texts[0] == "hide new secretions from the parental units"

    for name, rows in (("sts-train.csv", 5_749), ("sts-dev.csv", 1_500)):
        table = read_table(
            SHARED_DATA / "stsb" / name, 5, 4, 6, delimiter="\t", header=False
        )
        scores = [float(label) for label in table.labels]
        assert len(table) == rows
        assert min(scores) == 0.0 and max(scores) == 5.0
        assert all(
            text and pair for text, pair in zip(table.texts, table.pairs, strict=True)
        )

    squad = SHARED_DATA / "squad"
    for name, questions in (
        ("squad-v1.1-train-first11.json", 3_807),
        ("squad-v1.1-dev-a.json", 5_397),
    ):
        examples, stats = read_squad_with_stats(squad / name)
        assert stats.questions == questions
        assert stats.realigned_answers == stats.dropped_answers == 0
