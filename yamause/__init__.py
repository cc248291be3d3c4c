"""yamause: a Python package released to AWS CodeArtifact by `cargo xtask release`."""

from yamause.__about__ import __version__

__all__ = ["__version__"]
