"""The package's version, read from the installed package's metadata: ``pyproject.toml``
is its one source (the plugin, the SDKs and ``pulumi-metronome --version`` all report it)."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "pulumi-metronome"


def version() -> str:
    """The installed version; ``0.0.0`` when the package runs from a source tree that was
    never installed (no metadata to read)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0.0.0"
