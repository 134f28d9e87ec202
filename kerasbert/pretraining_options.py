"""Names of the training choices (pretraining, fine-tuning), importable
without TensorFlow.

The CLI's ``--help`` lists them, and the modules that implement them validate
against them, so the lists live here once.
"""

#: kind -> sentence task of the masked-LM pretrainers (ELECTRA has none).
SENTENCE_TASK_OF_KIND = {"bert": "nsp", "albert": "sop", "roberta": None}
PRETRAINER_KINDS = (*SENTENCE_TASK_OF_KIND, "electra")
STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
OPTIMIZERS = ("adamw", "lamb")
#: Keras dtype policies the training commands accept.
PRECISIONS = ("float32", "mixed_bfloat16")
