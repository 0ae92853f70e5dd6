"""s3logextraction: raw Amazon S3 server access logs to privacy-safe public usage statistics.

Every command is a library function: `extract`, `stop`, `status`, `parse`, `reset_extraction`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("s3logextraction")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

from .extract import ExtractReport, extract, reset_extraction, stop
from .parse import parse
from .status import status

__all__ = ["ExtractReport", "__version__", "extract", "parse", "reset_extraction", "status", "stop"]
