"""Subcommands of the ``kerasbert`` CLI, one module each.

Every module exposes ``add_parser(subparsers)``, which registers its parser
and sets ``func`` to a ``run(args) -> int`` callable.
"""
