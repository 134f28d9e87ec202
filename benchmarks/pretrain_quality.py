"""Do the pretrainers learn? BERT vs ALBERT vs ELECTRA on WikiText-2 at equal compute.

1. Trains a WordPiece vocabulary on WikiText-2 ``train.txt`` and builds
   TFRecords with ``tfrecords-tools`` (MLM+NSP and MLM+SOP on train, MLM+NSP
   with token masking on ``valid.txt`` for evaluation).
2. Pretrains, for the same CPU-time budget each (steps = budget / measured
   CPU seconds per step; CPU time, unlike wall time, is not inflated by a
   shared host's steal), all at lr 5e-4:
   * BERT: BERT-mini (L=4, H=256, A=4), MLM + NSP;
   * ALBERT: same depth/width, one shared layer group, E=128, MLM + SOP;
   * ELECTRA: discriminator of ELECTRA-small width (H=256, E=128, A=4) at
     BERT-mini depth (L=4), generator 1/4 wide, MLM + 50 x RTD.
3. Reports masked-LM accuracy on the valid records at every checkpoint (for
   ELECTRA: its generator's, plus RTD accuracy/AUC) next to the unigram
   baseline (always predicting the most frequent training target).
4. Fine-tunes each encoder (and a randomly initialised BERT-mini) on an SST-2
   subset (``train.tsv``), evaluating on ``dev_from_train.tsv``.

    python -m benchmarks.pretrain_quality --data-dir /work/shared/data
    python -m benchmarks.pretrain_quality --data-dir D --cpu-minutes-per-model 2
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from benchmarks.common import (  # noqa: E402
    library_versions,
    machine_info,
    markdown_table,
    write_results,
)
from kerasbert.data import pretraining_dataset, read_build, tuned_options  # noqa: E402
from kerasbert.models.classifiers import SequenceClassifier  # noqa: E402
from kerasbert.models.encoder import Encoder  # noqa: E402
from kerasbert.models.presets import preset_config  # noqa: E402
from kerasbert.pretraining import build_pretrainer  # noqa: E402
from kerasbert.pretraining.evaluation import (  # noqa: E402
    evaluate_pretrainer,
    read_in_order,
    unigram_baseline,
)
from kerasbert.tokenizers import InputPacker, load_tokenizer  # noqa: E402
from kerasbert.training import Trainer, TrainerConfig  # noqa: E402

VARIANTS = {
    # name: (pretrainer kind, records, encoder overrides of bert_mini)
    "BERT (MLM+NSP)": ("bert", "nsp", {}),
    "ALBERT (MLM+SOP, shared, E=128)": (
        "albert", "sop", {"embedding_size": 128, "num_groups": 1},
    ),
    "ELECTRA (small width, L=4)": ("electra", "nsp", {"embedding_size": 128}),
}  # fmt: skip


def prepare_data(args: argparse.Namespace, work: Path) -> dict[str, Path]:
    """Vocabulary and record builds (reused when already there)."""
    from tfrecords_tools.builder import build
    from tfrecords_tools.settings import BuildConfig
    from tfrecords_tools.vocab import train_wordpiece

    wikitext = Path(args.data_dir) / "wikitext-2"
    vocab = work / "vocab.txt"
    if not vocab.exists():
        print("training the WordPiece vocabulary ...")
        train_wordpiece([wikitext / "train.txt"], vocab, args.vocab_size)
    builds = {
        "nsp": (wikitext / "train.txt", "mlm-nsp"),
        "sop": (wikitext / "train.txt", "mlm-sop"),
        "valid": (wikitext / "valid.txt", "mlm-nsp"),
    }
    paths = {"vocab": vocab}
    for name, (text, task) in builds.items():
        config = BuildConfig(
            task=task,
            seq_len=args.sequence_length,
            max_predictions=args.max_predictions,
            dupe_factor=1,
            one_document_per_line=True,
            masking="token" if name == "valid" else None,
        )
        print(f"building {name} records ...")
        build([text], vocab, work / name, config, workers=2)
        paths[name] = work / name
    return paths


def pretrain(
    name: str, args: argparse.Namespace, paths: dict[str, Path], work: Path
) -> tuple[keras.Model, list[dict], dict]:
    """Trains one variant for the budget; returns it and its valid curve."""
    kind, records, overrides = VARIANTS[name]
    built = read_build(paths[records])
    files, lengths = built.files, built.lengths
    vocabulary_size = built.vocabulary_size
    encoder = preset_config(
        "bert_mini",
        vocabulary_size=vocabulary_size,
        max_sequence_length=args.sequence_length,
        **overrides,
    )
    mask_id = load_tokenizer(paths["vocab"]).mask_id

    def dataset() -> tf.data.Dataset:
        options = tuned_options()
        options.deterministic = True
        return pretraining_dataset(
            files, args.batch_size, lengths, seed=args.seed, repeat=True,
            options=options,
        )  # fmt: skip

    def trainer(directory: Path, steps: int, every: int) -> Trainer:
        config = TrainerConfig(
            total_steps=steps,
            learning_rate=args.learning_rate,
            warmup_steps=max(1, steps // 10),
            checkpoint_every=every,
            log_every=every,
            keep_checkpoints=100,
            seed=args.seed,
        )
        return Trainer(
            lambda: build_pretrainer(kind, encoder, mask_id), config, str(directory)
        )

    slug = kind + ("_" + records if kind != "electra" else "")
    directories = {
        label: work / f"{label}_{slug}" for label in ("calibrate2", "calibrate", "run")
    }
    for directory in directories.values():  # trainers would resume old runs
        shutil.rmtree(directory, ignore_errors=True)

    def cpu_seconds(steps: int, every: int, label: str) -> float:
        started = time.process_time()
        trainer(directories[label], steps, every).train(dataset())
        return time.process_time() - started

    # Calibrate in CPU seconds (all threads of this process), which a shared
    # host's CPU steal does not inflate as it does wall time: a 12-step run
    # minus a 2-step run is the cost of 10 steps without model building and
    # compilation.
    cpu_seconds_per_step = (
        cpu_seconds(12, 6, "calibrate") - cpu_seconds(2, 2, "calibrate2")
    ) / 10
    steps = max(10, int(args.cpu_minutes_per_model * 60 / cpu_seconds_per_step))
    every = max(1, steps // args.evaluations)
    steps = every * args.evaluations
    print(f"{name}: {cpu_seconds_per_step:.2f} CPU s/step -> {steps} steps")
    run = trainer(directories["run"], steps, every)
    started, cpu_started = time.perf_counter(), time.process_time()
    summary = run.train(dataset())
    train_seconds = time.perf_counter() - started
    train_cpu_seconds = time.process_time() - cpu_started

    valid = read_in_order(paths["valid"], args.batch_size)
    curve = []
    checkpoint = tf.train.Checkpoint(model=run.model)
    for path in tf.train.get_checkpoint_state(
        str(directories["run"] / "checkpoints")
    ).all_model_checkpoint_paths:
        # The run's checkpoints also hold the optimizer: restore only the
        # model, but all of it.
        checkpoint.restore(path).assert_existing_objects_matched().expect_partial()
        step = int(path.rsplit("-", 1)[1])
        curve.append({"step": step, **evaluate_pretrainer(run.model, valid)})
        print(name, json.dumps({k: round(v, 4) for k, v in curve[-1].items()}))
    info = {
        "kind": kind,
        "encoder": encoder,
        "steps": steps,
        "cpu_seconds_per_step": cpu_seconds_per_step,
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu_seconds,
        "parameters": run.model.count_params(),
        "final_train_metrics": summary["final_metrics"],
    }
    return run.model, curve, info


def sst2(path: Path, limit: int) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[:limit]
    return [r["sentence"] for r in rows], np.array([int(r["label"]) for r in rows])


def finetune(
    encoder: Encoder, args: argparse.Namespace, paths: dict[str, Path]
) -> float:
    """SST-2 dev accuracy after fine-tuning ``encoder`` on a train subset."""
    tokenizer = load_tokenizer(paths["vocab"])
    packer = InputPacker.for_tokenizer(tokenizer, args.finetune_sequence_length)

    def encode(sentences: list[str]) -> dict[str, np.ndarray]:
        packed = packer(tokenizer.tokenize(tf.constant(sentences)))
        return {k: v.numpy() for k, v in packed.items() if k in encoder.input_names}

    sst = Path(args.data_dir) / "sst2"
    train_text, train_labels = sst2(sst / "train.tsv", args.finetune_examples)
    dev_text, dev_labels = sst2(sst / "dev_from_train.tsv", args.dev_examples)
    pooling = "pooled" if encoder.use_pooler else "cls"
    classifier = SequenceClassifier(encoder, num_classes=2, pooling=pooling)
    classifier.compile(
        optimizer=keras.optimizers.AdamW(args.finetune_learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    classifier.fit(
        encode(train_text), train_labels, batch_size=32,
        epochs=args.finetune_epochs, verbose=0,
    )  # fmt: skip
    logits = classifier.predict(encode(dev_text), batch_size=128, verbose=0)
    return float((logits.argmax(-1) == dev_labels).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="holds wikitext-2/, sst2/")
    parser.add_argument("--work-dir", default="/tmp/kerasbert_pretrain_quality")
    parser.add_argument(
        "--cpu-minutes-per-model",
        type=float,
        default=20.0,
        help="CPU time (all cores) per model; 20 is ~10 min on 2 idle cores",
    )
    parser.add_argument("--evaluations", type=int, default=4)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--max-predictions", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    # 5e-4: the ELECTRA paper's rate for its small models (ELECTRA- and
    # BERT-Small alike). At 1e-3 ELECTRA's discriminator collapses to the
    # replaced-token prior (RTD AUC stays 0.50) while the MLM models learn.
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--finetune-examples", type=int, default=3000)
    parser.add_argument("--dev-examples", type=int, default=2000)
    parser.add_argument("--finetune-sequence-length", type=int, default=64)
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--finetune-learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="pretrain_quality", help="results name")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    paths = prepare_data(args, work)
    baseline, commonest = unigram_baseline(
        read_in_order(paths["nsp"], 256), read_in_order(paths["valid"], 256)
    )
    print(f"unigram baseline: {baseline:.4f} (token id {commonest})")

    results = {}
    for name in tqdm(VARIANTS, desc="variants"):
        model, curve, info = pretrain(name, args, paths, work)
        encoder = model.fine_tuning_encoder
        info["curve"] = curve
        info["sst2_dev_accuracy"] = finetune(encoder, args, paths)
        results[name] = info
    keras.utils.set_random_seed(args.seed)
    vocabulary_size = len(paths["vocab"].read_text().splitlines())
    scratch = Encoder(**preset_config(
        "bert_mini", vocabulary_size=vocabulary_size,
        max_sequence_length=args.sequence_length,
    ))  # fmt: skip
    scratch_accuracy = finetune(scratch, args, paths)

    rows = []
    for name, info in results.items():
        final = info["curve"][-1]
        curve = " → ".join(f"{row['mlm_accuracy']:.3f}" for row in info["curve"])
        extra = (
            f"RTD acc {final['rtd_accuracy']:.3f}, AUC {final['rtd_auc']:.3f}"
            if "rtd_auc" in final
            else f"{info['kind'] == 'bert' and 'NSP' or 'SOP'} acc "
            f"{final.get('nsp_accuracy', final.get('sop_accuracy', float('nan'))):.3f}"
        )
        rows.append([
            name, info["steps"], f"{info['cpu_seconds_per_step']:.2f}",
            f"{info['parameters'] / 1e6:.2f}M", curve, extra,
            f"{info['sst2_dev_accuracy']:.3f}",
        ])  # fmt: skip
    rows.append(["random init (no pretraining)", 0, "-", "-", "-", "-",
                 f"{scratch_accuracy:.3f}"])  # fmt: skip
    total_minutes = (time.perf_counter() - started) / 60
    payload = {
        "benchmark": "pretrain_quality",
        "config": {k: v for k, v in vars(args).items() if k != "name"},
        "machine": machine_info(),
        "versions": library_versions(["tensorflow", "keras", "numpy"]),
        "unigram_baseline_mlm_accuracy": baseline,
        "results": results,
        "random_init_sst2_dev_accuracy": scratch_accuracy,
        "total_minutes": total_minutes,
    }
    markdown = (
        "# Pretraining quality on WikiText-2 at equal compute\n\n"
        f"{args.cpu_minutes_per_model} CPU-minutes of pretraining per model on "
        f"{payload['machine']['cores']} cores (steps = budget / measured CPU "
        f"seconds per step), batch {args.batch_size} x seq {args.sequence_length}, "
        f"{args.max_predictions} predictions, WordPiece vocab {vocabulary_size}, "
        f"lr {args.learning_rate}. MLM accuracy on valid.txt records at "
        f"{args.evaluations} checkpoints (ELECTRA: its generator). Unigram "
        f"baseline (always the commonest training target): **{baseline:.3f}**.\n"
        f"SST-2: fine-tuned {args.finetune_epochs} epoch(s) on the first "
        f"{args.finetune_examples} rows of train.tsv, accuracy on the first "
        f"{args.dev_examples} rows of dev_from_train.tsv. Total run: "
        f"{total_minutes:.1f} min.\n\n"
        + markdown_table(
            [
                "variant",
                "steps",
                "CPU s/step",
                "params",
                "valid MLM accuracy over steps",
                "sentence / RTD task",
                "SST-2 dev acc",
            ],
            rows,
        )  # fmt: skip
    )
    write_results(args.name, payload, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
