"""Names shared by the exporter and the server (TF Serving's conventions)."""

from pathlib import Path

DEFAULT_SIGNATURE = "serving_default"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
# Where TF Serving looks for warmup requests inside a version directory.
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
# The bytes feature of the tf.Examples that classify/regress signatures parse.
TEXT_FEATURE = "text"
