"""cfremedy: find and safely fix the Cloudflare misconfigurations behind 5xx errors."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cfremedy")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
