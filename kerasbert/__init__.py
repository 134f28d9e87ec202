"""kerasbert: BERT-family encoders for TensorFlow/Keras 3."""

from kerasbert.models.encoder import Encoder
from kerasbert.models.presets import PRESETS

__version__ = "0.1.0"

__all__ = ["Encoder", "PRESETS", "__version__"]
