"""The HTTP server: a FastAPI app factory over the core, and the `leakshield serve` runner."""

from leakshield.server._app import create_app
from leakshield.server._run import is_loopback, serve

__all__ = ["create_app", "is_loopback", "serve"]
