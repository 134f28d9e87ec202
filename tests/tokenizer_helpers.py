"""SentencePiece models trained in tests (ALBERT's special-id convention)."""

from __future__ import annotations

from pathlib import Path

import sentencepiece


def train_test_sentencepiece(
    directory: Path, lines: list[str], vocab_size: int, **options
) -> str:
    """Trains a unigram model on ``lines`` into ``directory``; its ``.model`` path.

    pad 0, unk 1, no BOS/EOS, ``[CLS] [SEP] [MASK]`` as control symbols, as
    ``SentencePieceTokenizer`` expects. ``options`` go to the trainer.
    """
    prefix = str(directory / "spm")
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=prefix,
        vocab_size=vocab_size,
        model_type="unigram",
        pad_id=0,
        unk_id=1,
        bos_id=-1,
        eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        minloglevel=2,
        **options,
    )
    return prefix + ".model"
