"""Google TF1 checkpoints: original names written by a TF1 Saver, exact round trips.

The reference checkpoints here are written with ``tf.compat.v1.train.Saver``
in graph mode from a random ``transformers`` model, translating its names to
Google's with the test's own rules (independent of the library's tables);
the loaded encoder must then reproduce the ``transformers`` model's outputs.
"""

import json
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
from checkpoint_helpers import (
    ENCODER_H32,
    TINY_HF_BERT,
    assert_same_weights,
    max_difference,
    padded_batch,
)
from model_helpers import randomize

from kerasbert import Encoder
from kerasbert.checkpoints.google import load_google, save_google

VOCAB = TINY_HF_BERT["vocab_size"]
BERT_CONFIG = dict(
    TINY_HF_BERT, type_vocab_size=2, hidden_act="gelu", initializer_range=0.02
)
_ALBERT_RENAMES = [
    ("albert_layer_groups/", "transformer/group_"),
    ("albert_layers/", "inner_group_"),
    ("attention/query", "attention_1/self/query"),
    ("attention/key", "attention_1/self/key"),
    ("attention/value", "attention_1/self/value"),
    ("attention/dense", "attention_1/output/dense"),
    ("attention/LayerNorm", "LayerNorm"),
    ("ffn_output", "ffn_1/intermediate/output/dense"),
    ("ffn/", "ffn_1/intermediate/dense/"),
    ("full_layer_layer_norm", "LayerNorm_1"),
]


def google_name(hf_name: str) -> tuple[str, bool]:
    """Google's name for a Hugging Face tensor, and whether to transpose it."""
    *module, kind = hf_name.split(".")
    path = "/".join(module)
    path = re.sub(r"layer/(\d+)", r"layer_\1", path)
    if path.startswith("albert/"):
        path = "bert/" + path.removeprefix("albert/") + "/"
        for old, new in _ALBERT_RENAMES:
            path = path.replace(old, new)
        path = path.rstrip("/")
    if path.endswith("pooler"):
        path += "/dense"
    if path.endswith("embeddings") and not path.endswith("/embeddings"):
        return path, False  # word / position / token_type tables
    if "LayerNorm" in path:
        return f"{path}/{'gamma' if kind == 'weight' else 'beta'}", False
    return f"{path}/{'kernel' if kind == 'weight' else 'bias'}", kind == "weight"


def write_with_tf1_saver(tensors: dict, prefix: str) -> None:
    """A TF1 graph-mode ``Saver`` checkpoint holding ``tensors`` by bare name."""
    with tf.Graph().as_default():
        variables = {
            name: tf.compat.v1.Variable(value, name=name.replace("/", "_"))
            for name, value in tensors.items()
        }
        saver = tf.compat.v1.train.Saver(var_list=variables)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, prefix, write_meta_graph=False)


@pytest.fixture(scope="module")
def transformers():
    pytest.importorskip("torch")
    return pytest.importorskip("transformers")


def _reference_checkpoint(transformers, model_type, directory):
    """A random transformers model and the same weights as a Google checkpoint."""
    import torch

    config_dict = dict(BERT_CONFIG)
    if model_type == "albert":
        config_dict.update(num_hidden_layers=4, embedding_size=16, num_hidden_groups=2)
        config = transformers.AlbertConfig(**{**config_dict, "hidden_act": "gelu_new"})
        model_class = transformers.AlbertModel
    elif model_type == "electra":
        config_dict.update(embedding_size=16)
        config = transformers.ElectraConfig(**config_dict)
        model_class = transformers.ElectraModel
    else:
        config = transformers.BertConfig(**config_dict)
        model_class = transformers.BertModel
    torch.manual_seed(0)
    model = model_class(config).eval()
    tensors = {}
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.normal_(0.0, 0.2)
            google, transpose = google_name(f"{model_type}.{name}")
            value = parameter.numpy()
            tensors[google] = np.ascontiguousarray(value.T if transpose else value)
    # What real pretraining checkpoints also hold, all to be skipped.
    tensors["global_step"] = np.array(1000, np.int64)
    first = sorted(tensors)[0]
    tensors[f"{first}/adam_m"] = np.zeros_like(tensors[first])
    tensors["cls/predictions/output_bias"] = np.zeros(VOCAB, np.float32)
    name = "albert_config.json" if model_type == "albert" else "bert_config.json"
    (directory / name).write_text(json.dumps(config_dict))
    write_with_tf1_saver(tensors, str(directory / "model.ckpt"))
    return model


@pytest.mark.parametrize("model_type", ["bert", "albert", "electra"])
def test_original_checkpoint_matches_transformers(model_type, transformers, tmp_path):
    import torch

    reference = _reference_checkpoint(transformers, model_type, tmp_path)
    encoder = load_google(tmp_path, output_hidden_states=True)
    inputs = padded_batch(VOCAB, 12)
    with torch.no_grad():
        expected = reference(
            input_ids=torch.from_numpy(inputs["input_ids"]).long(),
            attention_mask=torch.from_numpy(inputs["input_mask"]).long(),
            token_type_ids=torch.from_numpy(inputs["segment_ids"]).long(),
            output_hidden_states=True,
        )
    actual = encoder(inputs)
    difference = max(
        max_difference(ours, theirs.numpy(), inputs["input_mask"])
        for ours, theirs in zip(
            actual["hidden_states"], expected.hidden_states, strict=True
        )
    )
    print(f"google {model_type}: max |diff| {difference:.3g}")
    assert difference <= 1e-4
    if model_type != "electra":
        pooled = actual["pooled_output"] - expected.pooler_output.numpy()
        assert np.abs(pooled).max() <= 1e-4

    # And back: save_google writes the same names and values.
    save_google(encoder, tmp_path / "again", model_type)
    original = tf.train.load_checkpoint(str(tmp_path / "model.ckpt"))
    written = tf.train.load_checkpoint(str(tmp_path / "again"))
    names = set(written.get_variable_to_shape_map())
    assert names == {
        n
        for n in original.get_variable_to_shape_map()
        if not n.startswith("cls/") and n != "global_step" and "adam" not in n
    }
    for name in names:
        assert np.array_equal(original.get_tensor(name), written.get_tensor(name))


@pytest.mark.parametrize(
    "architecture, overrides",
    [
        ("bert", {}),
        ("albert", dict(embedding_size=16, num_groups=1, hidden_activation="gelu_new")),
        ("electra", dict(embedding_size=16, use_pooler=False)),
        ("electra_generator", dict(embedding_size=16, use_pooler=False)),
    ],
)
def test_save_then_load_is_bit_exact(architecture, overrides, tmp_path):
    encoder = Encoder(**{**ENCODER_H32, **overrides})
    randomize(encoder, seed=7)
    save_google(encoder, tmp_path, architecture)
    loaded = load_google(tmp_path, architecture=architecture, dropout_rate=0.0)
    assert_same_weights(encoder, loaded)
    assert loaded.hidden_activation == encoder.hidden_activation.replace(
        "gelu_new", "gelu_approximate"
    )


def test_generator_and_discriminator_share_one_checkpoint(tmp_path):
    discriminator = Encoder(**ENCODER_H32, embedding_size=16, use_pooler=False)
    generator = Encoder(
        **{**ENCODER_H32, "hidden_size": 16, "num_heads": 2},
        embedding_size=16,
        use_pooler=False,
    )
    randomize(discriminator, seed=1)
    randomize(generator, seed=2)
    # ELECTRA's generator shares the discriminator's embedding tables and norm.
    shared = {v.path: v for v in discriminator.embeddings.weights}
    for variable in generator.embeddings.weights:
        if "projection" not in variable.path:
            variable.assign(shared[variable.path])
    save_google(discriminator, tmp_path / "d", "electra")
    save_google(generator, tmp_path / "g", "electra_generator")
    both = {}
    for part in ("d", "g"):
        reader = tf.train.load_checkpoint(str(tmp_path / part))
        both.update(
            {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
        )
    (tmp_path / "both").mkdir()
    write_with_tf1_saver(both, str(tmp_path / "both" / "model.ckpt"))
    shutil.copy(tmp_path / "d" / "bert_config.json", tmp_path / "both")
    assert_same_weights(discriminator, load_google(tmp_path / "both"))
    config = json.loads((tmp_path / "g" / "bert_config.json").read_text())
    (tmp_path / "generator_config.json").write_text(json.dumps(config))
    loaded = load_google(
        tmp_path / "both",
        config_path=tmp_path / "generator_config.json",
        architecture="electra_generator",
    )
    assert_same_weights(generator, loaded)


def test_bad_checkpoints_are_clear_errors(tmp_path):
    encoder = Encoder(**ENCODER_H32)
    save_google(encoder, tmp_path / "good", "bert")
    reader = tf.train.load_checkpoint(str(tmp_path / "good"))
    tensors = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
    del tensors["bert/encoder/layer_1/output/dense/bias"]
    tensors["bert/encoder/layer_7/output/dense/bias"] = np.zeros(32, np.float32)
    (tmp_path / "broken").mkdir()
    write_with_tf1_saver(tensors, str(tmp_path / "broken" / "bert_model.ckpt"))
    shutil.copy(tmp_path / "good" / "bert_config.json", tmp_path / "broken")
    with pytest.raises(ValueError) as error:
        load_google(tmp_path / "broken")
    assert "bert/encoder/layer_1/output/dense/bias" in str(error.value)
    assert "bert/encoder/layer_7/output/dense/bias" in str(error.value)

    data = next((tmp_path / "good").glob("*.data-*"))
    data.write_bytes(b"\x00" * 7)
    with pytest.raises(ValueError, match="Cannot read"):
        load_google(tmp_path / "good")
    (tmp_path / "broken" / "bert_config.json").unlink()
    with pytest.raises(FileNotFoundError, match="bert_config.json"):
        load_google(tmp_path / "broken" / "bert_model.ckpt")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_google(tmp_path / "broken", config_path=tmp_path / "missing.json")
    with pytest.raises(FileNotFoundError):
        load_google(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="'silu'"):
        save_google(Encoder(**ENCODER_H32, hidden_activation="silu"), tmp_path / "silu")
    with pytest.warns(UserWarning, match="other GELU"):
        save_google(
            Encoder(**ENCODER_H32, hidden_activation="gelu_approximate"), tmp_path
        )
    assert load_google(tmp_path).hidden_activation == "gelu"
