"""Hugging Face pretraining heads into ``MaskedLanguageModel``, vs transformers.

Each case builds a tiny random task model in ``transformers`` (torch CPU),
saves it, loads it with ``load_hf_masked_lm`` and compares the MLM logits at
chosen positions (and the NSP / SOP logits) on padded inputs.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from checkpoint_helpers import (  # noqa: E402
    TINY_HF_BERT,
    TINY_HF_DISTILBERT,
    padded_batch,
)
from safetensors.numpy import load_file, save_file  # noqa: E402

from kerasbert.checkpoints.hf_masked_lm import load_hf_masked_lm  # noqa: E402

VOCAB, LENGTH = TINY_HF_BERT["vocab_size"], 12
POSITIONS = np.array([[0, 3, 7], [1, 2, 8], [0, 1, 4], [0, 1, 1]], np.int32)
BERT_LIKE = TINY_HF_BERT

# name -> (config, task class, sentence task, pad id, segment ids)
CASES = {
    "bert_pretraining": (
        transformers.BertConfig(**BERT_LIKE),
        transformers.BertForPreTraining,
        "nsp",
        0,
        2,
    ),
    "bert_masked_lm": (
        transformers.BertConfig(**BERT_LIKE),
        transformers.BertForMaskedLM,
        None,
        0,
        2,
    ),
    "albert_pretraining": (
        transformers.AlbertConfig(
            **{**BERT_LIKE, "num_hidden_layers": 4},
            embedding_size=16,
            num_hidden_groups=2,
        ),
        transformers.AlbertForPreTraining,
        "sop",
        0,
        2,
    ),
    "electra_generator": (
        transformers.ElectraConfig(**BERT_LIKE, embedding_size=16),
        transformers.ElectraForMaskedLM,
        None,
        0,
        2,
    ),
    "roberta_masked_lm": (
        transformers.RobertaConfig(
            **{**BERT_LIKE, "max_position_embeddings": 26},
            type_vocab_size=1,
            pad_token_id=1,
        ),
        transformers.RobertaForMaskedLM,
        None,
        1,
        1,
    ),
    "distilbert_masked_lm": (
        transformers.DistilBertConfig(**TINY_HF_DISTILBERT),
        transformers.DistilBertForMaskedLM,
        None,
        0,
        0,
    ),
}


def _save_random(case, directory, seed=0):
    config, task_class, *_ = CASES[case]
    torch.manual_seed(seed)
    model = task_class(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.2)
    model.save_pretrained(directory)
    return model


def _hf_logits(model, inputs):
    arguments = {
        "input_ids": torch.from_numpy(inputs["input_ids"]).long(),
        "attention_mask": torch.from_numpy(inputs["input_mask"]).long(),
    }
    if "segment_ids" in inputs:
        arguments["token_type_ids"] = torch.from_numpy(inputs["segment_ids"]).long()
    with torch.no_grad():
        output = model(**arguments)
    mlm = getattr(output, "prediction_logits", None)
    mlm = (output.logits if mlm is None else mlm).numpy()
    rows = np.arange(len(POSITIONS))[:, None]
    sentence = getattr(output, "seq_relationship_logits", None)
    sentence = getattr(output, "sop_logits", sentence)
    return mlm[rows, POSITIONS], None if sentence is None else sentence.numpy()


@pytest.mark.parametrize("case", sorted(CASES))
def test_heads_match_transformers(case, tmp_path):
    _, _, sentence_task, pad_id, segments = CASES[case]
    reference = _save_random(case, tmp_path)
    model = load_hf_masked_lm(tmp_path)
    assert model.sentence_task == sentence_task
    inputs = padded_batch(VOCAB, LENGTH, segments=segments, pad_id=pad_id)
    expected_mlm, expected_sentence = _hf_logits(reference, inputs)
    actual = model({**inputs, "masked_lm_positions": POSITIONS})
    difference = float(np.abs(actual["mlm_logits"] - expected_mlm).max())
    message = f"{case}: mlm logits max |diff| {difference:.3g}"
    assert difference <= 1e-4, message
    if sentence_task:
        sentence = float(np.abs(actual["sentence_logits"] - expected_sentence).max())
        message += f", sentence logits {sentence:.3g}"
        assert sentence <= 1e-4, message
    else:
        assert "sentence_logits" not in actual
    print(message)


def _rewrite(directory, edit):
    tensors = load_file(str(directory / "model.safetensors"))
    edit(tensors)
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})


def test_stored_tied_decoder_is_accepted_only_when_tied(tmp_path):
    _save_random("bert_masked_lm", tmp_path)
    words = "bert.embeddings.word_embeddings.weight"
    _rewrite(
        tmp_path,
        lambda t: t.update(
            {
                "cls.predictions.decoder.weight": t[words].copy(),
                "cls.predictions.decoder.bias": t["cls.predictions.bias"].copy(),
            }
        ),
    )
    tied = load_hf_masked_lm(tmp_path)
    embeddings = np.asarray(tied.encoder.token_embedding.embeddings)
    assert np.array_equal(
        embeddings, load_file(str(tmp_path / "model.safetensors"))[words]
    )

    _rewrite(
        tmp_path,
        lambda t: t.update(
            {"cls.predictions.decoder.weight": t[words] + np.float32(1e-3)}
        ),
    )
    with pytest.raises(ValueError, match=r"untied.*cls\.predictions\.decoder\.weight"):
        load_hf_masked_lm(tmp_path)

    _rewrite(
        tmp_path,
        lambda t: t.update(
            {
                "cls.predictions.decoder.weight": t[words],
                "cls.predictions.decoder.bias": t["cls.predictions.bias"] + 1,
            }
        ),
    )
    with pytest.raises(ValueError, match=r"cls\.predictions\.decoder\.bias differs"):
        load_hf_masked_lm(tmp_path)


def test_missing_and_extra_head_tensors_are_listed(tmp_path):
    _save_random("bert_masked_lm", tmp_path)
    _rewrite(tmp_path, lambda t: t.pop("cls.predictions.transform.dense.bias"))
    with pytest.raises(ValueError, match=r"cls\.predictions\.transform\.dense\.bias"):
        load_hf_masked_lm(tmp_path)

    _save_random("bert_masked_lm", tmp_path)
    _rewrite(tmp_path, lambda t: t.update({"classifier.weight": np.zeros((2, 32))}))
    with pytest.raises(ValueError, match=r"classifier\.weight"):
        load_hf_masked_lm(tmp_path)


def test_bare_encoder_checkpoint_has_no_head_to_load(tmp_path):
    config, *_ = CASES["bert_masked_lm"]
    transformers.BertModel(config).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"cls\.predictions\.bias"):
        load_hf_masked_lm(tmp_path)


def test_head_activation_must_match_the_encoder(tmp_path):
    config, task_class, *_ = CASES["roberta_masked_lm"]
    config = transformers.RobertaConfig(**{**config.to_dict(), "hidden_act": "relu"})
    task_class(config).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="always uses 'gelu'"):
        load_hf_masked_lm(tmp_path)
