"""The ``kerasbert`` command line: the one layer that ties the packages together.

``kerasbert`` (the core library), ``tfrecords_tools`` (pretraining-data builds)
and ``serving`` (SavedModel export and the model server) do not import this
package or, below the core, each other; the subcommands here combine them.
``main`` holds the entry point, ``commands`` one module per subcommand and
``quickstart`` the end-to-end quickstart's stages.
"""
