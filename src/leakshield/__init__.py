"""leakshield: defence against leaked and AI-faked intimate media."""

__version__ = "0.1.0"

__all__ = ["__version__"]
