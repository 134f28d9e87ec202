"""The quickstart's serving half: serve the exports, query them over gRPC.

Starts one local TF-Serving-API server (``serving.server.ModelServer``) per
exported model on free loopback ports, sends raw text through
``serving.client.PredictionClient`` (TF Serving's ``PredictionService``
over gRPC: the path a production client takes), and stops the servers
gracefully whatever happens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

#: Fill-mask prompts in the style of the default (docstring) corpus.
FILL_MASK_TEXTS = (
    "Return a new [MASK] with the items of the list.",
    "Raise a ValueError if the [MASK] is not found.",
    "The default value of this argument is [MASK].",
)
#: Sentences to embed: the first two say the same thing, the third does not.
EMBEDDING_TEXTS = (
    "Return the number of items in the list.",
    "Count how many elements the list holds.",
    "Open the file for writing and create it if needed.",
)


@contextlib.contextmanager
def serving(model_path: Path) -> Iterator[int]:
    """Serves ``model_path`` (``BASE/NAME``) on a free loopback gRPC port.

    Yields:
        The port. The server drains and stops on exit.
    """
    from serving.server import ModelServer, ServerConfig, single_model

    server = ModelServer(
        ServerConfig(
            models=single_model(model_path), grpc_port=0, rest_port=None, poll_seconds=0
        )
    )
    server.start()
    try:
        yield server.grpc_port
    finally:
        server.stop(grace_s=5.0)


def _decode(token: bytes | str) -> str:
    return token.decode("utf-8") if isinstance(token, bytes) else str(token)


def fill_mask(port: int, model_name: str, texts: Sequence[str]) -> list[dict]:
    """Top candidates for the first ``[MASK]`` of each text, asked over gRPC."""
    from serving.client import PredictionClient

    with PredictionClient(f"127.0.0.1:{port}", model_name) as client:
        version = client.wait_until_available()
        outputs = client.predict({"text": list(texts)})
    answers = []
    for row, text in enumerate(texts):
        found = outputs["mask_positions"][row, 0] >= 0
        candidates = (
            [
                (_decode(token), round(float(probability), 4))
                for token, probability in zip(
                    outputs["top_tokens"][row, 0],
                    outputs["top_probabilities"][row, 0],
                    strict=True,
                )
            ]
            if found
            else []
        )
        answers.append({"text": text, "version": version, "candidates": candidates})
    return answers


def embed(port: int, model_name: str, texts: Sequence[str]) -> dict:
    """Sentence embeddings over gRPC and their pairwise cosine similarities."""
    from serving.client import PredictionClient

    with PredictionClient(f"127.0.0.1:{port}", model_name) as client:
        version = client.wait_until_available()
        embeddings = client.predict({"text": list(texts)})["embedding"]
    unit = embeddings / np.maximum(
        np.linalg.norm(embeddings, axis=-1, keepdims=True), 1e-12
    )
    return {
        "texts": list(texts),
        "version": version,
        "dimension": int(embeddings.shape[-1]),
        "cosine": np.round(unit @ unit.T, 4).tolist(),
    }


def format_fill_mask(answers: list[dict]) -> str:
    lines = []
    for answer in answers:
        guesses = ", ".join(f"{token} ({p:.2f})" for token, p in answer["candidates"])
        lines.append(f"  {answer['text']}\n    -> {guesses or 'no [MASK] in the text'}")
    return "\n".join(lines)


def format_embeddings(result: dict) -> str:
    texts, cosine = result["texts"], result["cosine"]
    lines = [f"  {len(texts)} embeddings of size {result['dimension']}; cosine:"]
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            lines.append(f"    {cosine[i][j]:+.3f}  {texts[i]!r} ~ {texts[j]!r}")
    return "\n".join(lines)
