"""Readers for fine-tuning data: text tables, SQuAD JSON and CoNLL tagging files.

Everything here is pure Python (no TensorFlow, no pandas) so that ``kerasbert
finetune --help`` and data validation stay fast. Readers fail early with a
``ValueError`` that names the file, the line and what was expected, because a
silently shifted column or merged row otherwise only shows up as a bad score
hours later.
"""

from kerasbert.finetuning.readers.conll import TaggedSentence, read_conll
from kerasbert.finetuning.readers.squad import (
    Answer,
    SquadExample,
    SquadReadStats,
    align_answer,
    read_squad,
    read_squad_with_stats,
)
from kerasbert.finetuning.readers.tables import (
    Column,
    TextTable,
    discover_labels,
    read_table,
)

__all__ = [
    "Answer",
    "Column",
    "SquadExample",
    "SquadReadStats",
    "TaggedSentence",
    "TextTable",
    "align_answer",
    "discover_labels",
    "read_conll",
    "read_squad",
    "read_squad_with_stats",
    "read_table",
]
