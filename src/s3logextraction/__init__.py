"""s3logextraction: raw Amazon S3 server access logs to privacy-safe public usage statistics.

Every command is a library function of the same name, exported here; none of them installs
signal handlers, exits the process or changes process-wide state (a stop request is passed in
as a `threading.Event`).
"""

from .appinfo import __version__
from .extract import ExtractOptions, ExtractReport, extract, reset_extraction, stop
from .geolocate import Geolocation, update_ip_coordinates, update_ip_database, update_ip_regions
from .ips.admin import rotate_key, show_ip
from .ips.index import update_ip_indexes
from .parse import parse
from .pipeline import RunReport, run
from .share import ShareTarget, share
from .status import status
from .summarize import Mode, PublishOptions, SummaryReport, update_summaries, update_totals
from .validate import validate_cache, validate_logs

__all__ = [
    "ExtractOptions",
    "ExtractReport",
    "Geolocation",
    "Mode",
    "PublishOptions",
    "RunReport",
    "ShareTarget",
    "SummaryReport",
    "__version__",
    "extract",
    "parse",
    "reset_extraction",
    "rotate_key",
    "run",
    "share",
    "show_ip",
    "status",
    "stop",
    "update_ip_coordinates",
    "update_ip_database",
    "update_ip_indexes",
    "update_ip_regions",
    "update_summaries",
    "update_totals",
    "validate_cache",
    "validate_logs",
]
