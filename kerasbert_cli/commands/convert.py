"""``kerasbert convert``: move an encoder between checkpoint formats.

Formats (see ``kerasbert.checkpoints.formats``):
    kerasbert: a ``.keras`` file of a kerasbert ``Encoder`` (or, when
        reading, of a task model built on one).
    hf: a Hugging Face directory (``config.json`` + ``model.safetensors``).
    google: Google's original TF1 checkpoint (prefix or its directory, with
        ``bert_config.json`` / ``albert_config.json``).
    keras-hub: a ``.keras`` file of a keras-hub backbone.

Tokenizer files (``vocab.txt``, ``tokenizer.json``, ...) found beside SRC are
copied next to DST (into it, for hf and google). DST is written beside its
place, checked, and then swapped in whole, so it is never half-written nor a
mix of old and new files; written files get the umask's permissions. An
existing DST (or, for a .keras DST, a different tokenizer file beside it) is
refused unless ``--overwrite`` is given; a file is never replaced by a
directory or the other way round. ``--check`` reads DST back and compares
every weight with what was converted, bit for bit. ``--mlm-head`` (hf to
kerasbert) keeps a pretraining checkpoint's masked-LM head (and NSP / SOP
head) and writes a ``MaskedLanguageModel`` instead of the bare encoder.

Exit status: 0 done, 1 the conversion failed or DST was refused (nothing
written), 2 the arguments do not go together.

Also runnable without the CLI as ``python -m kerasbert_cli.commands.convert ...``.
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
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing DST whole (by default it is refused)",
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
    head_formats = ("hf", "kerasbert")
    if args.mlm_head and not (
        args.source_format in head_formats and args.target_format in head_formats
    ):
        problems.append(
            "--mlm-head needs --from hf|kerasbert --to hf|kerasbert (heads are "
            "not written to Google or keras-hub checkpoints)"
        )
    return problems


def _read(args: argparse.Namespace) -> keras.Model:
    """The ``Encoder`` (or, with ``--mlm-head``, ``MaskedLanguageModel``) in SRC."""
    from kerasbert.checkpoints.formats import read_encoder

    if args.mlm_head:
        return _read_masked_lm(args.source_format, args.source)
    return read_encoder(
        args.source_format,
        args.source,
        config_path=args.config,
        architecture=args.source_architecture,
    )


def _read_masked_lm(source_format: str, path: Path) -> keras.Model:
    """The ``MaskedLanguageModel`` (encoder + heads) in an hf or kerasbert SRC."""
    from kerasbert.checkpoints.formats import load_keras_file
    from kerasbert.checkpoints.hf_masked_lm import load_hf_masked_lm
    from kerasbert.models import MaskedLanguageModel

    if source_format == "hf":
        return load_hf_masked_lm(path)
    model = load_keras_file(path)
    if not isinstance(model, MaskedLanguageModel):
        raise ValueError(
            f"{path} holds a {type(model).__name__}, not a MaskedLanguageModel "
            "(--mlm-head)"
        )
    return model


def _destinations(args: argparse.Namespace) -> list[tuple[Path, bool]]:
    """What the conversion writes, each with whether it is a directory.

    DST, and for a .keras DST the tokenizer files copied beside it (those not
    already there byte for byte).
    """
    from kerasbert.checkpoints.files import assets_to_copy

    if args.target_format not in _FILE_FORMATS:
        return [(args.destination, True)]
    parent = args.destination.parent
    assets = assets_to_copy(args.source, parent)
    return [(args.destination, False)] + [(parent / a.name, False) for a in assets]


def _check_destinations(args: argparse.Namespace) -> None:
    """Refuses, before SRC is read, what DST's writing would not be allowed to do.

    Raises:
        OSError: a destination exists without ``--overwrite``, or is of the
            wrong kind, or has a file for a parent.
        ValueError: ``--overwrite`` would delete SRC (it lies inside DST).
    """
    from kerasbert.atomic_files import check_destination

    if args.overwrite and args.destination.resolve() in args.source.resolve().parents:
        raise ValueError(
            f"{args.source} lies inside {args.destination}, which --overwrite "
            "would delete"
        )
    for path, directory in _destinations(args):
        try:
            check_destination(path, directory, args.overwrite)
        except FileExistsError as error:
            raise FileExistsError(f"{error} (pass --overwrite to replace it)") from None


def _write(args: argparse.Namespace, model: keras.Model, path: Path) -> None:
    """Writes ``model`` at ``path`` in the format DST is to have."""
    from kerasbert.atomic_files import save_keras_atomically
    from kerasbert.checkpoints.formats import write_encoder
    from kerasbert.checkpoints.hf_masked_lm import save_hf_masked_lm

    if args.mlm_head and args.target_format == "hf":
        save_hf_masked_lm(model, path, args.architecture)
    elif args.mlm_head:
        save_keras_atomically(model, path)
    else:
        write_encoder(args.target_format, model, path, args.architecture)


def _read_back(args: argparse.Namespace, path: Path) -> keras.Model:
    """What ``path`` holds, read the way ``--from <target format>`` would."""

    from kerasbert.checkpoints.formats import read_encoder

    if args.mlm_head:
        return _read_masked_lm(args.target_format, path)
    return read_encoder(
        args.target_format,
        path,
        architecture=args.architecture if args.target_format == "google" else None,
    )


def _check(args: argparse.Namespace, model: keras.Model, path: Path) -> None:
    """Raises ``ValueError`` unless ``path`` reads back bit for bit as ``model``."""
    from kerasbert.checkpoints.mapping import variable_arrays

    differing = _differences(
        variable_arrays(model), variable_arrays(_read_back(args, path))
    )
    if differing:
        raise ValueError(
            f"check failed: {args.destination} reads back with different {differing}"
        )


def _write_destination(args: argparse.Namespace, model: keras.Model) -> list[str]:
    """Writes DST beside its place, checks it, then swaps it in whole.

    Returns:
        The tokenizer files copied (into DST, or beside a .keras DST).
    """
    from kerasbert.atomic_files import staged_path
    from kerasbert.checkpoints.files import copy_assets

    as_file = args.target_format in _FILE_FORMATS
    with staged_path(
        args.destination, directory=not as_file, overwrite=args.overwrite
    ) as staged:
        _write(args, model, staged)
        if args.check:
            _check(args, model, staged)
        assets_directory = args.destination.parent if as_file else staged
        return copy_assets(args.source, assets_directory, args.overwrite)


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

    try:
        _check_destinations(args)
        model = _read(args)
        copied = _write_destination(args, model)
    except (ValueError, OSError) as error:
        print(f"kerasbert convert: error: {error}", file=sys.stderr)
        return 1
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
        prog="python -m kerasbert_cli.commands.convert",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(main_parser)
    raise SystemExit(run(main_parser.parse_args()))
