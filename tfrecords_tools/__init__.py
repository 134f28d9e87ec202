"""Vocabulary training and TFRecord pretraining-data builders (``tfrecords-tools``).

Modules: ``vocab`` (WordPiece / SentencePiece training), ``corpus`` (streaming
chunked reading), ``tokenization`` (TensorFlow-free batch tokenizers),
``instances`` (sequence packing), ``masking`` (masked-LM selection),
``records`` (tf.train.Example encoding in NumPy), ``shard`` (one chunk -> one
shard), ``builder`` (parallel resumable builds), ``inspection`` (statistics),
``cli`` (the console script). What a build writes (manifest, feature layout,
TFRecord framing) is the core's records format,
``kerasbert.data.records_format``, which the readers share. Importing this
package does not import TensorFlow.
"""
