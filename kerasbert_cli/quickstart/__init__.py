"""The end-to-end quickstart: an embedded corpus and the pipeline that uses it."""
