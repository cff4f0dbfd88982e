"""A local, stateful, spec-driven mock of Togai's billing API, for contract testing."""
from .app import create_app
from .config import Config
from .version import __version__

__all__ = ["Config", "__version__", "create_app"]
