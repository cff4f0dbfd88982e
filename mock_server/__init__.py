"""A local, stateful, spec-driven mock of Togai's accounts and invoice-groups API."""
from .app import create_app
from .config import Config

__all__ = ["Config", "create_app"]
__version__ = "0.1.0"
