"""Training: optimizer schedules, a strategy-agnostic loop, checkpoints, reports."""

from kerasbert.training.distribution import STRATEGIES, create_strategy
from kerasbert.training.optimization import WarmupLinearDecay, create_optimizer
from kerasbert.training.trainer import Trainer, TrainerConfig, TrainingDataError

__all__ = [
    "STRATEGIES",
    "Trainer",
    "TrainerConfig",
    "TrainingDataError",
    "WarmupLinearDecay",
    "create_optimizer",
    "create_strategy",
]
