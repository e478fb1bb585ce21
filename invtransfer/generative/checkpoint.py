"""Temporary: the checkpoint files moved to `invtransfer.checkpoint`; this re-export goes once
`invtransfer.experiments` imports that module."""

from invtransfer.checkpoint import *  # noqa: F403
