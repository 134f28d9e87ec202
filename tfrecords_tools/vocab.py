"""Vocabulary training: a BERT WordPiece ``vocab.txt`` and a SentencePiece model.

* WordPiece uses tensorflow-text's learner (``bert_vocab_from_dataset``) over a
  ``tf.data`` stream of the input lines, so memory does not grow with the
  corpus. The output starts with ``[PAD] [UNK] [CLS] [SEP] [MASK]`` (ids 0-4)
  and uses ``##`` continuation pieces: a standard BERT ``vocab.txt``.
* SentencePiece trains a unigram model with the ALBERT convention: ``<pad>``=0,
  ``<unk>``=1, control symbols ``[CLS] [SEP] [MASK]``, no BOS/EOS. At most
  ``input_sentence_size`` lines (sampled) are loaded by the trainer.

Both write their output atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kerasbert.atomic_files import atomic_write

WORDPIECE_RESERVED = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
SENTENCEPIECE_CONTROL = ("[CLS]", "[SEP]", "[MASK]")


def _check_inputs(inputs: Sequence[str | os.PathLike]) -> list[str]:
    paths = [os.fspath(p) for p in inputs]
    if not paths:
        raise ValueError("no input files given")
    for path in paths:
        if not Path(path).is_file():
            raise FileNotFoundError(f"input file not found: {path}")
    return paths


def train_wordpiece(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    vocab_size: int = 30522,
    lowercase: bool = True,
    batch_size: int = 1024,
) -> list[str]:
    """Learns a WordPiece vocabulary and writes it to ``output``, one per line.

    Args:
        inputs: text files; every non-blank line is a training text. Bytes that
            are not UTF-8 are replaced (they cannot form vocabulary entries).
        output: path of the ``vocab.txt`` to write.
        vocab_size: target size including the reserved tokens (the learner may
            return slightly fewer for small corpora).
        lowercase: uncased BERT (lowercase + strip accents).
        batch_size: lines per learner batch.

    Returns:
        The vocabulary list as written.
    """
    paths = _check_inputs(inputs)
    if vocab_size <= len(WORDPIECE_RESERVED):
        raise ValueError(f"vocab_size must exceed {len(WORDPIECE_RESERVED)}")
    import tensorflow as tf
    from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

    lines = (
        tf.data.TextLineDataset(paths)
        .map(lambda t: tf.strings.unicode_transcode(t, "UTF-8", "UTF-8"))
        .filter(lambda t: tf.strings.length(tf.strings.strip(t)) > 0)
        .batch(batch_size)
    )
    vocabulary = bert_vocab_from_dataset.bert_vocab_from_dataset(
        lines,
        vocab_size=vocab_size,
        reserved_tokens=list(WORDPIECE_RESERVED),
        bert_tokenizer_params={"lower_case": lowercase},
        learn_params={},
    )
    with atomic_write(output, "w") as handle:
        handle.write("".join(token + "\n" for token in vocabulary))
    return vocabulary


def train_sentencepiece(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    vocab_size: int = 30000,
    input_sentence_size: int = 1_000_000,
    character_coverage: float = 0.9995,
    seed: int = 12345,
) -> Path:
    """Trains a unigram SentencePiece model (ALBERT convention) to ``output``.

    Args:
        inputs: text files, one sentence per line.
        output: path of the ``.model`` file to write (``.vocab`` beside it).
        vocab_size: number of pieces including the special ones.
        input_sentence_size: at most this many sampled lines are used.
        character_coverage: fraction of characters the model must cover.
        seed: sampling seed of the trainer.

    Returns:
        The model path.
    """
    paths = _check_inputs(inputs)
    import sentencepiece

    output = Path(output)
    with tempfile.TemporaryDirectory(dir=output.parent) as scratch:
        prefix = os.path.join(scratch, "spm")
        sentencepiece.set_random_generator_seed(seed)
        try:
            sentencepiece.SentencePieceTrainer.train(
                input=paths,
                model_prefix=prefix,
                model_type="unigram",
                vocab_size=vocab_size,
                pad_id=0,
                unk_id=1,
                bos_id=-1,
                eos_id=-1,
                control_symbols=list(SENTENCEPIECE_CONTROL),
                input_sentence_size=input_sentence_size,
                shuffle_input_sentence=True,
                character_coverage=character_coverage,
                num_threads=os.cpu_count() or 1,
                minloglevel=2,
            )
        except RuntimeError as error:  # e.g. vocab_size too large for the text
            raise ValueError(f"SentencePiece training failed: {error}") from error
        for suffix in (".vocab", ".model"):  # the model last: it marks success
            with atomic_write(output.with_suffix(suffix)) as handle:
                handle.write(Path(prefix + suffix).read_bytes())
    return output
