"""Vocabulary training and TFRecord pretraining-data builders (``tfrecords-tools``).

Modules: ``vocab`` (WordPiece / SentencePiece training), ``corpus`` (streaming
chunked reading), ``tokenization`` (TensorFlow-free batch tokenizers),
``instances`` (sequence packing), ``masking`` (masked-LM selection),
``records`` (tf.train.Example encoding in NumPy), ``shard`` (one chunk -> one
shard), ``manifest`` (what a build is and has, resume decisions),
``output_store`` (the output directory's file operations), ``builder``
(parallel resumable builds in local processes), ``inspection`` (statistics),
``cli`` (the console script). With the optional ``beam`` extra:
``beam_pipeline`` (the same build as an Apache Beam pipeline), ``beam_vocab``
(WordPiece word counts in Beam), ``beam_files`` (Beam's file systems); only
``--runner beam`` imports them. What a build writes (manifest, feature layout,
TFRecord framing) is the core's records format,
``kerasbert.data.records_format``, which the readers share. Importing this
package does not import TensorFlow.
"""
