"""Loading weights from other frameworks' checkpoints."""

from kerasbert.checkpoints.assignment import assign_by_path
from kerasbert.checkpoints.huggingface import load_hf_bert, read_hf_checkpoint

__all__ = ["assign_by_path", "load_hf_bert", "read_hf_checkpoint"]
