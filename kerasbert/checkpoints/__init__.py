"""Checkpoint interop: Hugging Face, Google TF1 and keras-hub <-> ``Encoder``.

Each format is a table of names (``layouts``) run through one shared
assignment routine (``mapping``), so every path checks the same way: all
tensors used, none missing, shapes right, nothing half-loaded.
"""

from kerasbert.checkpoints.assignment import assign_by_path
from kerasbert.checkpoints.formats import FORMATS, read_encoder, write_encoder
from kerasbert.checkpoints.google import load_google, save_google
from kerasbert.checkpoints.hf_masked_lm import load_hf_masked_lm, save_hf_masked_lm
from kerasbert.checkpoints.huggingface import (
    load_hf,
    load_hf_bert,
    read_hf_checkpoint,
    save_hf,
)
from kerasbert.checkpoints.keras_hub import from_keras_hub, to_keras_hub

__all__ = [
    "FORMATS",
    "assign_by_path",
    "from_keras_hub",
    "load_google",
    "load_hf",
    "load_hf_bert",
    "load_hf_masked_lm",
    "read_encoder",
    "read_hf_checkpoint",
    "save_google",
    "save_hf",
    "save_hf_masked_lm",
    "to_keras_hub",
    "write_encoder",
]
