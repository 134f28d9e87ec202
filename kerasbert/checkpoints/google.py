"""Google's original TF1 checkpoints (BERT, ALBERT, ELECTRA) to and from ``Encoder``.

These are ``tf.train.Saver`` checkpoints with bare variable names such as
``bert/encoder/layer_0/attention/self/query/kernel`` plus a JSON config
(``bert_config.json`` / ``albert_config.json``) in BERT's key names. Dense
kernels are already ``[in, out]``. Optimizer slots (``adam_m``/``adam_v``),
``global_step`` and the pretraining heads are skipped.

ELECTRA's pretraining checkpoints hold both models: the discriminator under
``electra/`` and the generator under ``generator/``, which shares the
discriminator's ``electra/embeddings``. ``architecture="electra"`` loads the
discriminator, ``"electra_generator"`` the generator.

Google's ``modeling.py`` (BERT, ALBERT and ELECTRA alike) computes
``hidden_act: "gelu"`` with the tanh approximation and hard-codes LayerNorm
epsilon 1e-12. Reading takes ``"gelu"`` as Hugging Face's conversions do
(exact GELU for BERT and ELECTRA, the tanh form for ALBERT), so kerasbert and
transformers agree on the same checkpoint. Writing warns when Google's code
will compute another function than the encoder: an exact GELU (up to 3.9e-3
on MiniLM) or another epsilon (4.8e-2 for 1e-3); the weights are exact.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.atomic_files import staged_directory, write_json_atomically
from kerasbert.checkpoints.files import read_json
from kerasbert.checkpoints.hf_architectures import HF_ARCHITECTURES
from kerasbert.checkpoints.layouts import (
    GOOGLE_NAMING,
    BlockNames,
    Layout,
    bert_block,
    encoder_rules,
    infer_architecture,
    warn_about_fixed_hyperparameters,
)
from kerasbert.checkpoints.mapping import export_tensors, load_into
from kerasbert.models.encoder import Encoder

CONFIG_FILES = ("bert_config.json", "albert_config.json")
_SKIPPED_SUFFIXES = ("/adam_m", "/adam_v", "global_step")
# What Google's modeling.py computes: "gelu" is always the tanh form.
_GOOGLE_ACTIVATIONS = ("gelu_approximate", "relu")
GOOGLE_LAYER_NORM_EPSILON = 1e-12


@dataclass(frozen=True)
class GoogleArchitecture:
    """One model in Google's TF1 naming.

    Attributes:
        family: the Hugging Face ``model_type`` whose config keys and
            translation the JSON config shares.
        layout: the variable names.
        gelu: the Hugging Face name of what ``hidden_act: "gelu"`` is read as
            (Hugging Face's convention; Google's code computes the tanh form).
        skipped_prefixes: variables of other models in the same checkpoint.
        checkpoint_name, config_name: file names written by ``save_google``.
    """

    family: str
    layout: Layout
    gelu: str
    skipped_prefixes: tuple[str, ...]
    checkpoint_name: str
    config_name: str


def _embeddings(scope: str) -> dict[str, str]:
    return dict(
        word_embeddings=f"{scope}/word_embeddings",
        position_embeddings=f"{scope}/position_embeddings",
        segment_embeddings=f"{scope}/token_type_embeddings",
        embedding_norm=f"{scope}/LayerNorm",
    )


_ALBERT_LAYER = "bert/encoder/transformer/group_{i}/inner_group_0"
_HEADS = ("cls/", "discriminator_predictions/", "generator_predictions/")

GOOGLE_ARCHITECTURES: dict[str, GoogleArchitecture] = {
    "bert": GoogleArchitecture(
        "bert",
        Layout(
            naming=GOOGLE_NAMING,
            **_embeddings("bert/embeddings"),
            block=bert_block("bert/encoder/layer_{i}", "/"),
            pooler="bert/pooler/dense",
        ),
        "gelu",
        _HEADS,
        "bert_model.ckpt",
        "bert_config.json",
    ),
    "albert": GoogleArchitecture(
        "albert",
        Layout(
            naming=GOOGLE_NAMING,
            **_embeddings("bert/embeddings"),
            projection="bert/encoder/embedding_hidden_mapping_in",
            block=BlockNames(
                query=f"{_ALBERT_LAYER}/attention_1/self/query",
                key=f"{_ALBERT_LAYER}/attention_1/self/key",
                value=f"{_ALBERT_LAYER}/attention_1/self/value",
                attention_output=f"{_ALBERT_LAYER}/attention_1/output/dense",
                attention_norm=f"{_ALBERT_LAYER}/LayerNorm",
                intermediate=f"{_ALBERT_LAYER}/ffn_1/intermediate/dense",
                output=f"{_ALBERT_LAYER}/ffn_1/intermediate/output/dense",
                output_norm=f"{_ALBERT_LAYER}/LayerNorm_1",
            ),
            pooler="bert/pooler/dense",
            shared_blocks=True,
            projection_required=True,
        ),
        "gelu_new",
        _HEADS,
        "model.ckpt",
        "albert_config.json",
    ),
    "electra": GoogleArchitecture(
        "electra",
        Layout(
            naming=GOOGLE_NAMING,
            **_embeddings("electra/embeddings"),
            projection="electra/embeddings_project",
            block=bert_block("electra/encoder/layer_{i}", "/"),
            pooler="electra/pooler/dense",
        ),
        "gelu",
        (*_HEADS, "generator/"),
        "model.ckpt",
        "bert_config.json",
    ),
    "electra_generator": GoogleArchitecture(
        "electra",
        Layout(
            naming=GOOGLE_NAMING,
            **_embeddings("electra/embeddings"),
            projection="generator/embeddings_project",
            block=bert_block("generator/encoder/layer_{i}", "/"),
            pooler="generator/pooler/dense",
        ),
        "gelu",
        (*_HEADS, "electra/encoder/", "electra/embeddings_project/", "electra/pooler/"),
        "model.ckpt",
        "bert_config.json",
    ),
}


def google_architecture(name: str) -> GoogleArchitecture:
    """The registry entry ``name`` (``ValueError`` listing the known ones)."""
    if name not in GOOGLE_ARCHITECTURES:
        raise ValueError(
            f"Unsupported Google architecture {name!r}; "
            f"supported: {sorted(GOOGLE_ARCHITECTURES)}"
        )
    return GOOGLE_ARCHITECTURES[name]


def checkpoint_prefix(path: str | os.PathLike) -> str:
    """The checkpoint prefix for a prefix or a directory holding one checkpoint.

    Raises:
        FileNotFoundError: no checkpoint there, or several without a
            ``checkpoint`` state file to choose between them.
    """
    import tensorflow as tf

    path = Path(path)
    if path.is_dir():
        latest = tf.train.latest_checkpoint(str(path))
        if latest:
            return latest
        indexes = sorted(path.glob("*.index"))
        if len(indexes) != 1:
            raise FileNotFoundError(
                f"{path} holds {len(indexes)} TF checkpoints and no 'checkpoint' "
                "file; pass the checkpoint prefix instead."
            )
        return str(indexes[0].with_suffix(""))
    if not Path(f"{path}.index").is_file():
        raise FileNotFoundError(f"No TF checkpoint {path} ({path}.index is missing)")
    return str(path)


def read_google_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every variable of a TF1 checkpoint, by its bare name.

    Raises:
        FileNotFoundError: see ``checkpoint_prefix``.
        ValueError: a corrupt or unreadable checkpoint.
    """
    import tensorflow as tf

    prefix = checkpoint_prefix(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
        return {
            name: reader.get_tensor(name)
            for name in sorted(reader.get_variable_to_shape_map())
        }
    except (tf.errors.OpError, ValueError, IndexError) as error:
        raise ValueError(f"Cannot read the TF checkpoint {prefix}: {error}") from error


def detect_architecture(names: list[str]) -> str:
    """``"albert"``, ``"electra"`` or ``"bert"`` from the variable names."""
    if any(name.startswith("bert/encoder/transformer/") for name in names):
        return "albert"
    if any(name.startswith("electra/") for name in names):
        return "electra"
    if any(name.startswith("bert/") for name in names):
        return "bert"
    raise ValueError(
        "Not a BERT, ALBERT or ELECTRA checkpoint: no bert/ or electra/ variables "
        f"among {names[:10]}"
    )


def _find_config(checkpoint: str | os.PathLike) -> Path:
    checkpoint = Path(checkpoint)
    directory = checkpoint if checkpoint.is_dir() else checkpoint.parent
    for name in CONFIG_FILES:
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"No {' or '.join(CONFIG_FILES)} in {directory}")


def _google_activation(hf_name: str, spec: GoogleArchitecture, name: str) -> str:
    """The ``hidden_act`` Google's code for ``spec`` understands (gelu/relu).

    Both GELU forms are written as ``"gelu"``; the one that readers (this
    module, Hugging Face) do not take ``"gelu"`` to mean for ``spec`` gets a
    warning, since a model read back computes the other GELU.
    """
    if hf_name == "relu":
        return "relu"
    if hf_name not in ("gelu", "gelu_new"):
        raise ValueError(
            f"Google's {name} code has no activation {hf_name!r} "
            "(Hugging Face's name); it knows gelu and relu."
        )
    if hf_name != spec.gelu:
        warnings.warn(
            f"A Google {name} config's 'gelu' is read back as {spec.gelu!r} "
            f"(Hugging Face's names) but the encoder uses {hf_name!r}: the "
            "weights are exact, a model read back computes the other GELU.",
            stacklevel=3,
        )
    return "gelu"


def load_google(
    path: str | os.PathLike,
    config_path: str | os.PathLike | None = None,
    architecture: str | None = None,
    **overrides: Any,
) -> Encoder:
    """Builds an ``Encoder`` from one of Google's TF1 checkpoints.

    Args:
        path: the checkpoint prefix (``.../bert_model.ckpt``) or its directory.
        config_path: the JSON config; by default ``bert_config.json`` or
            ``albert_config.json`` beside the checkpoint.
        architecture: ``"bert"``, ``"albert"``, ``"electra"`` or
            ``"electra_generator"``; detected from the names when ``None``
            (ELECTRA checkpoints give the discriminator).
        **overrides: ``Encoder`` arguments to change, e.g. ``dropout_rate=0.0``.

    Raises:
        ValueError: a variable missing, unused or of the wrong shape (all are
            listed); nothing is half-loaded.
    """
    tensors = read_google_checkpoint(path)
    spec = google_architecture(architecture or detect_architecture(list(tensors)))
    config = read_json(Path(config_path) if config_path else _find_config(path))
    if config.get("hidden_act", "gelu") == "gelu":
        config = {**config, "hidden_act": spec.gelu}
    encoder_config = HF_ARCHITECTURES[spec.family].encoder_config(config)
    layout = spec.layout
    encoder_config["use_pooler"] = layout.naming.kernel.format(layout.pooler) in tensors
    encoder_config["architecture"] = spec.family
    encoder = Encoder(**{**encoder_config, **overrides})
    load_into(
        encoder,
        tensors,
        encoder_rules(layout, encoder),
        ignore=lambda name: (
            name.endswith(_SKIPPED_SUFFIXES) or name.startswith(spec.skipped_prefixes)
        ),
        source=f"TF checkpoint {path}",
    )
    return encoder


def save_google(
    encoder: Encoder, path: str | os.PathLike, architecture: str | None = None
) -> Path:
    """Writes ``encoder`` as a Google TF1 checkpoint directory.

    Writes ``<checkpoint_name>.index`` / ``.data-00000-of-00001``, the
    ``checkpoint`` state file and the JSON config, with the original bare
    variable names (via the ``SaveV2`` op that ``tf.compat.v1.train.Saver``
    uses), so Google's code and ``tf.train.load_checkpoint`` read it.

    Args:
        encoder: the encoder to write.
        path: the output directory (files are replaced atomically).
        architecture: ``"bert"``, ``"albert"``, ``"electra"`` or
            ``"electra_generator"``; inferred from the encoder when ``None``.

    Raises:
        ValueError: the encoder does not fit the architecture.
    """
    import tensorflow as tf

    name = architecture or infer_architecture(encoder, GOOGLE_ARCHITECTURES)
    spec = google_architecture(name)
    tensors = export_tensors(
        encoder, encoder_rules(spec.layout, encoder), target=f"Google {name}"
    )
    config = HF_ARCHITECTURES[spec.family].hf_config(encoder)
    del config["model_type"]
    config["hidden_act"] = _google_activation(config["hidden_act"], spec, name)
    warn_about_fixed_hyperparameters(
        encoder, f"Google's {name} code", _GOOGLE_ACTIVATIONS, GOOGLE_LAYER_NORM_EPSILON
    )
    with staged_directory(path) as scratch:
        names = sorted(tensors)
        tf.raw_ops.SaveV2(
            prefix=str(scratch / spec.checkpoint_name),
            tensor_names=names,
            shape_and_slices=[""] * len(names),
            tensors=[tensors[n] for n in names],
        )
        (scratch / "checkpoint").write_text(
            f'model_checkpoint_path: "{spec.checkpoint_name}"\n'
            f'all_model_checkpoint_paths: "{spec.checkpoint_name}"\n'
        )
        write_json_atomically(scratch / spec.config_name, config, sort_keys=True)
    return Path(path)
