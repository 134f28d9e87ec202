"""TF Serving's classic ``half_plus_two`` test model, written the TF1 way.

TF Serving's own tests load this model (``y = 0.5 * x + 2``) as a graph-mode
SavedModel built with ``tf.compat.v1``: variables restored by the saver,
a main op (the init op run after the restore), and SignatureDefs of the
three TF Serving APIs. A
loader that runs it answers like ``tensorflow_model_server`` for graphs not
written by ``tf.saved_model.save``.

    version_dir = write_half_plus_two(tmp_path / "half_plus_two")
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

VERSION = "00000123"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
PREDICT_METHOD = "tensorflow/serving/predict"


def _signature(
    inputs: dict[str, tf.Tensor], outputs: dict[str, tf.Tensor], method: str
):
    """A SignatureDef of graph tensors (TF1's ``build_tensor_info``)."""
    info = tf.compat.v1.saved_model.build_tensor_info
    return tf.compat.v1.saved_model.build_signature_def(
        inputs={name: info(tensor) for name, tensor in inputs.items()},
        outputs={name: info(tensor) for name, tensor in outputs.items()},
        method_name=method,
    )


def write_half_plus_two(export_dir: Path) -> Path:
    """Writes ``export_dir/00000123``: y = 0.5 x + 2 over float x.

    Signatures: ``serving_default`` (predict: ``x`` float [B, 1] -> ``y``
    [B, 1]); ``classify_x_to_y`` (classify: ``inputs``, serialized
    ``tf.Example``s [B] with float feature ``x`` -> ``scores`` [B, 1]) and
    ``regress_x_to_y`` (regress: ``inputs`` -> ``outputs`` [B, 1]).

    Returns:
        The version directory.
    """
    version_dir = Path(export_dir) / VERSION
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        a = tf.compat.v1.Variable(0.5, name="a")
        b = tf.compat.v1.Variable(2.0, name="b")
        serialized = tf.compat.v1.placeholder(tf.string, [None], name="tf_example")
        parsed = tf.io.parse_example(
            serialized, {"x": tf.io.FixedLenFeature([1], tf.float32)}
        )
        x = tf.identity(parsed["x"], name="x")
        y = tf.add(tf.multiply(a, x), b, name="y")
        session.run(tf.compat.v1.global_variables_initializer())
        builder = tf.compat.v1.saved_model.Builder(str(version_dir))
        builder.add_meta_graph_and_variables(
            session,
            [tf.compat.v1.saved_model.SERVING],
            signature_def_map={
                "serving_default": _signature({"x": x}, {"y": y}, PREDICT_METHOD),
                "classify_x_to_y": _signature(
                    {"inputs": serialized}, {"scores": y}, CLASSIFY_METHOD
                ),
                "regress_x_to_y": _signature(
                    {"inputs": serialized}, {"outputs": y}, REGRESS_METHOD
                ),
            },
            main_op=tf.compat.v1.tables_initializer(),
        )
        builder.save()
    return version_dir
