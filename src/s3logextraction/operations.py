"""The operations an S3 server access log records, for checking `--operations`.

The log format documents the field as `REST.HTTP_method.resource_type`,
`WEBSITE.HTTP_method.resource_type`, `SOAP.operation`, `BATCH.DELETE.OBJECT` or
`S3.action.resource_type` (lifecycle and logging).  A name outside this list is almost always a
typo (`REST.GET.OBJCT`), which would otherwise mark every object done with nothing kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from .errors import UsageError

REST_RESOURCES = {
    "GET": "OBJECT OBJECT_TAGGING OBJECT_ATTRIBUTES OBJECT_LOCK_CONFIGURATION ACL BUCKET BUCKETVERSIONS VERSIONING "
    "LOCATION LOGGING_STATUS POLICY_STATUS BUCKETPOLICY CORS LIFECYCLE WEBSITE NOTIFICATION REPLICATION ENCRYPTION "
    "TAGGING UPLOADS UPLOAD PUBLIC_ACCESS_BLOCK OWNERSHIP_CONTROLS ACCELERATE REQUEST_PAYMENT ANALYTICS INVENTORY "
    "METRICS INTELLIGENT_TIERING RETENTION LEGAL_HOLD TORRENT",
    "HEAD": "OBJECT BUCKET",
    "PUT": "OBJECT OBJECT_TAGGING OBJECT_LOCK_CONFIGURATION ACL BUCKET VERSIONING LOGGING_STATUS BUCKETPOLICY CORS "
    "LIFECYCLE WEBSITE NOTIFICATION REPLICATION ENCRYPTION TAGGING PART PUBLIC_ACCESS_BLOCK OWNERSHIP_CONTROLS "
    "ACCELERATE REQUEST_PAYMENT ANALYTICS INVENTORY METRICS INTELLIGENT_TIERING RETENTION LEGAL_HOLD",
    "POST": "OBJECT UPLOADS UPLOAD MULTI_OBJECT_DELETE RESTORE SELECT",
    "DELETE": "OBJECT OBJECT_TAGGING BUCKET BUCKETPOLICY CORS LIFECYCLE WEBSITE REPLICATION ENCRYPTION TAGGING "
    "UPLOAD PUBLIC_ACCESS_BLOCK OWNERSHIP_CONTROLS ANALYTICS INVENTORY METRICS INTELLIGENT_TIERING",
    "COPY": "OBJECT OBJECT_GET PART PART_GET",
    "OPTIONS": "PREFLIGHT",
}
OTHERS = (
    "WEBSITE.GET.OBJECT WEBSITE.HEAD.OBJECT BATCH.DELETE.OBJECT S3.EXPIRE.OBJECT S3.CREATE.DELETEMARKER "
    "S3.TRANSITION.OBJECT S3.TRANSITION_SIA.OBJECT S3.TRANSITION_ZIA.OBJECT S3.TRANSITION_INT.OBJECT "
    "S3.TRANSITION_GIR.OBJECT S3.TRANSITION_GDA.OBJECT S3.RESTORE.OBJECT S3.DELETE.UPLOAD "
    "SOAP.GET.OBJECT SOAP.PUT.OBJECT SOAP.CREATE.BUCKET SOAP.LIST.BUCKET"
)
KNOWN_OPERATIONS = frozenset(
    [f"REST.{method}.{resource}" for method, resources in REST_RESOURCES.items() for resource in resources.split()]
    + OTHERS.split()
)
DEFAULT_OPERATIONS = ("REST.GET.OBJECT",)


def check_operations(names: Iterable[str]) -> tuple[str, ...]:
    """The operations, sorted and without repeats; an unknown or empty one is a usage error."""
    chosen = sorted({name.strip() for name in names})
    unknown = [name for name in chosen if name not in KNOWN_OPERATIONS]
    if unknown or not chosen:
        what = f"unknown operation {', '.join(unknown)}" if unknown else "no operation given"
        objects = sorted(name for name in KNOWN_OPERATIONS if name.endswith(".OBJECT"))
        raise UsageError(
            f"{what}; object operations are {', '.join(objects)} (the S3 log format's REST.<method>.<resource> "
            "names are all accepted)"
        )
    return tuple(chosen)


class ExtractMode(StrEnum):
    """Which keys a cache holds: all (generic), or DANDI's blobs and Zarr stores (dandi)."""

    generic = "generic"
    dandi = "dandi"
