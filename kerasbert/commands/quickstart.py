"""``kerasbert quickstart``: build a tiny ALBERT and run it, with nothing to fetch."""

from __future__ import annotations

import argparse

import numpy as np


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "quickstart",
        help="build a tiny ALBERT, run a forward pass, print shapes and sizes",
        description=(
            "Builds a tiny ALBERT (factorized embedding, one shared parameter "
            "group) with random weights, runs a forward pass on a random batch "
            "and prints output shapes and parameter counts. Needs no files."
        ),
    )
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--sequence-length", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import keras

    from kerasbert import Encoder, MaskedLanguageModel

    keras.utils.set_random_seed(args.seed)
    albert = Encoder(
        vocabulary_size=1000,
        num_layers=4,
        num_heads=4,
        hidden_size=128,
        intermediate_size=512,
        embedding_size=32,
        num_groups=1,
        max_sequence_length=max(128, args.sequence_length),
    )
    bert_like = Encoder(
        **{**albert.get_config(), "embedding_size": 128, "num_groups": 4}
    )
    model = MaskedLanguageModel(albert, sentence_task="sop")

    rng = np.random.default_rng(args.seed)
    shape = (args.batch_size, args.sequence_length)
    inputs = {
        "input_ids": rng.integers(5, 1000, size=shape, dtype=np.int32),
        "input_mask": np.ones(shape, np.int32),
        "segment_ids": (np.arange(shape[1]) >= shape[1] // 2)
        .astype(np.int32)[None]
        .repeat(shape[0], 0),
        "masked_lm_positions": np.tile(np.arange(1, 6, dtype=np.int32), (shape[0], 1)),
    }
    outputs = model(inputs)
    encoded = albert({k: inputs[k] for k in albert.input_names})

    print("Tiny ALBERT: L=4, H=128, E=32, heads=4, 1 shared group")
    for name, tensor in {**encoded, **outputs}.items():
        print(f"  {name:16s} {tuple(tensor.shape)} {tensor.dtype.name}")
    print(f"  encoder parameters:           {albert.count_params():,}")
    print(f"  same shape without sharing:   {bert_like.count_params():,}")
    print(f"  with MLM + SOP heads:         {model.count_params():,}")
    return 0
