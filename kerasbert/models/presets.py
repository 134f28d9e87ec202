"""Architecture presets (hyperparameters only: no weights are downloaded).

BERT sizes follow Turc et al. 2019 (tiny ... medium) and Devlin et al. 2018
(base, large); ALBERT sizes follow Lan et al. 2019 (vocabulary 30000, E=128,
all layers in one shared group). Every preset uses FFN size 4H.
"""

from __future__ import annotations

from typing import Any


def _bert(num_layers: int, hidden_size: int, num_heads: int) -> dict[str, Any]:
    return dict(
        vocabulary_size=30522,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_size=hidden_size,
        intermediate_size=4 * hidden_size,
        max_sequence_length=512,
        type_vocabulary_size=2,
    )


def _albert(num_layers: int, hidden_size: int, num_heads: int) -> dict[str, Any]:
    return dict(
        _bert(num_layers, hidden_size, num_heads),
        vocabulary_size=30000,
        embedding_size=128,
        num_groups=1,
    )


PRESETS: dict[str, dict[str, Any]] = {
    "bert_tiny": _bert(2, 128, 2),
    "bert_mini": _bert(4, 256, 4),
    "bert_small": _bert(4, 512, 8),
    "bert_medium": _bert(8, 512, 8),
    "bert_base": _bert(12, 768, 12),
    "bert_large": _bert(24, 1024, 16),
    "minilm_l6_h384": _bert(6, 384, 12),
    "albert_base": _albert(12, 768, 12),
    "albert_large": _albert(24, 1024, 16),
    "albert_xlarge": _albert(24, 2048, 32),
    "albert_xxlarge": _albert(12, 4096, 64),
}


def preset_config(name: str, **overrides: Any) -> dict[str, Any]:
    """The encoder keyword arguments of preset ``name``, with ``overrides``."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; available: {sorted(PRESETS)}.")
    return {**PRESETS[name], **overrides}
