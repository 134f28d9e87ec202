"""``kerasbert convert``: move an encoder between checkpoint formats.

Formats (see ``kerasbert.checkpoints.formats``):
    kerasbert: a ``.keras`` file of a kerasbert ``Encoder`` (or, when
        reading, of a task model built on one).
    hf: a Hugging Face directory (``config.json`` + ``model.safetensors``).
    google: Google's original TF1 checkpoint (prefix or its directory, with
        ``bert_config.json`` / ``albert_config.json``).
    keras-hub: a ``.keras`` file of a keras-hub backbone.

Tokenizer files (``vocab.txt``, ``tokenizer.json``, ...) found beside SRC are
copied next to DST. Every write is atomic. ``--check`` reads DST back and
compares every weight with what was converted, bit for bit. ``--mlm-head``
(hf to kerasbert) keeps a pretraining checkpoint's masked-LM head (and NSP /
SOP head) and writes a ``MaskedLanguageModel`` instead of the bare encoder.

Exit status: 0 done, 1 the conversion failed (nothing written, or the check
failed), 2 the arguments do not go together.

Also runnable without the CLI as ``python -m kerasbert.commands.convert ...``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

# Kept in step with kerasbert.checkpoints.formats.FORMATS (a test checks);
# not imported from there so that building the parser does not load Keras.
FORMATS = ("kerasbert", "hf", "google", "keras-hub")
# Formats whose DST is one .keras file; the tokenizer files go beside it.
_FILE_FORMATS = ("kerasbert", "keras-hub")
_DESCRIPTION = __doc__.split("\n\nAlso runnable")[0]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an encoder between kerasbert, HF, Google TF1 and keras-hub",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The convert options (shared by the subcommand and ``python -m``)."""
    parser.add_argument(
        "--from",
        dest="source_format",
        choices=FORMATS,
        default="hf",
        help="format of SRC (default: hf)",
    )
    parser.add_argument(
        "--to",
        dest="target_format",
        choices=FORMATS,
        default="kerasbert",
        help="format of DST (default: kerasbert)",
    )
    parser.add_argument(
        "--architecture",
        default=None,
        help=(
            "what to write for hf, google and keras-hub: bert, albert, electra, "
            "distilbert, roberta (google: bert, albert, electra, "
            "electra_generator); inferred from the encoder by default"
        ),
    )
    parser.add_argument(
        "--source-architecture",
        default=None,
        help=(
            "google SRC only: the model to read (bert, albert, electra, "
            "electra_generator); detected from the variable names by default"
        ),
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="google SRC only: its JSON config (default: the one beside it)",
    )
    parser.add_argument(
        "--mlm-head",
        action="store_true",
        help=(
            "hf SRC to kerasbert DST only: also load the masked-LM (and NSP/SOP) "
            "head and write a MaskedLanguageModel"
        ),
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="read DST back and require every weight to be bit-identical",
    )
    parser.add_argument("source", metavar="SRC", type=Path, help="what to convert")
    parser.add_argument(
        "destination",
        metavar="DST",
        type=Path,
        help="a directory for hf and google, a .keras file for kerasbert and keras-hub",
    )


def _usage_problems(args: argparse.Namespace) -> list[str]:
    problems = []
    if args.target_format in _FILE_FORMATS and args.destination.suffix != ".keras":
        problems.append(
            f"--to {args.target_format} writes a .keras file; DST is {args.destination}"
        )
    if args.source_format != "google":
        problems += [
            f"{flag} applies to --from google only"
            for flag, value in (
                ("--config", args.config),
                ("--source-architecture", args.source_architecture),
            )
            if value is not None
        ]
    if args.target_format == "kerasbert" and args.architecture is not None:
        problems.append("--architecture does not apply to --to kerasbert")
    hf_to_kerasbert = args.source_format == "hf" and args.target_format == "kerasbert"
    if args.mlm_head and not hf_to_kerasbert:
        problems.append("--mlm-head needs --from hf --to kerasbert")
    return problems


def _read(args: argparse.Namespace) -> keras.Model:
    """The ``Encoder`` (or, with ``--mlm-head``, ``MaskedLanguageModel``) in SRC."""
    from kerasbert.checkpoints.formats import read_encoder
    from kerasbert.checkpoints.hf_masked_lm import load_hf_masked_lm

    if args.mlm_head:
        return load_hf_masked_lm(args.source)
    return read_encoder(
        args.source_format,
        args.source,
        config_path=args.config,
        architecture=args.source_architecture,
    )


def _write(args: argparse.Namespace, model: keras.Model) -> None:
    from kerasbert.checkpoints.files import save_keras_atomically
    from kerasbert.checkpoints.formats import write_encoder

    if args.mlm_head:
        save_keras_atomically(model, args.destination)
    else:
        write_encoder(args.target_format, model, args.destination, args.architecture)


def _read_back(args: argparse.Namespace) -> keras.Model:
    """What DST holds, read the way ``--from <target format>`` would."""
    import keras

    from kerasbert.checkpoints.formats import read_encoder

    if args.mlm_head:
        return keras.saving.load_model(args.destination)
    return read_encoder(
        args.target_format,
        args.destination,
        architecture=args.architecture if args.target_format == "google" else None,
    )


def _differences(expected: dict, actual: dict) -> list[str]:
    """Variable paths whose arrays differ (or exist on one side only)."""
    return sorted(
        path
        for path in set(expected) | set(actual)
        if path not in expected
        or path not in actual
        or expected[path].dtype != actual[path].dtype
        or not (expected[path] == actual[path]).all()
    )


def run(args: argparse.Namespace) -> int:
    problems = _usage_problems(args)
    if problems:
        print(f"kerasbert convert: error: {'; '.join(problems)}", file=sys.stderr)
        return 2

    from kerasbert.checkpoints.files import copy_assets
    from kerasbert.checkpoints.mapping import variable_arrays

    try:
        model = _read(args)
        _write(args, model)
        if args.check:
            differing = _differences(
                variable_arrays(model), variable_arrays(_read_back(args))
            )
            if differing:
                raise ValueError(
                    f"check failed: {args.destination} reads back with different "
                    f"{differing}"
                )
    except (ValueError, FileNotFoundError) as error:
        print(f"kerasbert convert: error: {error}", file=sys.stderr)
        return 1
    directory = (
        args.destination.parent
        if args.target_format in _FILE_FORMATS
        else args.destination
    )
    copied = copy_assets(args.source, directory)
    encoder = getattr(model, "encoder", model)
    print(
        f"Wrote {args.destination} ({args.target_format}) from {args.source} "
        f"({args.source_format}): {type(model).__name__}, {encoder.num_layers} "
        f"layers, hidden size {encoder.hidden_size}, {model.count_params():,} "
        "parameters"
        + (", checked bit-exact" if args.check else "")
        + (f"; copied {', '.join(copied)}" if copied else "")
    )
    return 0


if __name__ == "__main__":
    main_parser = argparse.ArgumentParser(
        prog="python -m kerasbert.commands.convert",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(main_parser)
    raise SystemExit(run(main_parser.parse_args()))
