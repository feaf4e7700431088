"""Bringing an existing Metronome account under code.

``account`` reads a live account (list pages only) into the declared form of each object,
with a stable resource name per object; ``export`` writes it as a ``pulumi import --file``
JSON for the native provider and as a Python program for the dynamic provider, and lists
the drift between an account and a stack (``pulumi-metronome export``).
"""

from .account import Account, Exported, ExportError, read_account

__all__ = ["Account", "ExportError", "Exported", "read_account"]
