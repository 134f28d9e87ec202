"""DistilBERT: half-depth students initialised from, and trained against, a teacher."""

from kerasbert.distillation.data import distillation_dataset
from kerasbert.distillation.distiller import Distiller, encoder_hidden_states
from kerasbert.distillation.losses import (
    cosine_loss,
    hidden_mse_loss,
    masked_lm_loss,
    soft_target_loss,
)
from kerasbert.distillation.student import (
    build_student,
    build_student_mlm,
    default_layer_map,
)

__all__ = [
    "Distiller",
    "build_student",
    "build_student_mlm",
    "cosine_loss",
    "default_layer_map",
    "distillation_dataset",
    "encoder_hidden_states",
    "hidden_mse_loss",
    "masked_lm_loss",
    "soft_target_loss",
]
