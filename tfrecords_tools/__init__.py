"""Vocabulary training and TFRecord pretraining-data builders (``tfrecords-tools``).

Modules: ``vocab`` (WordPiece / SentencePiece training), ``corpus`` (streaming
chunked reading), ``tokenization`` (TensorFlow-free batch tokenizers),
``instances`` (sequence packing), ``masking`` (masked-LM selection),
``records`` (TFRecord + tf.train.Example writer in NumPy), ``shard`` (one
chunk -> one shard), ``builder`` (parallel resumable builds), ``inspection``
(statistics), ``cli`` (the console script). Importing this package does not
import TensorFlow.
"""
