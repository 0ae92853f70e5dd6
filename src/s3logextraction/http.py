"""HTTP for the services (the DANDI API, ipinfo), with retries in one place.

One `requests.Session` whose adapter retries (urllib3's `Retry`): connection errors, read
timeouts and 5xx answers are tried again with exponential backoff, a bounded number of times;
a 429 or another 4xx is returned at once, for the caller to read (a quota ends its lookups with
progress kept).  After the last retry the last answer is returned as is (a 5xx), or the
connection error raised: the caller says which service failed and what that means for the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests

RETRIES = 4
RETRIED_STATUSES = (500, 502, 503, 504)


def session(*, retries: int = RETRIES, backoff: float = 0.5) -> requests.Session:
    """A session retrying GET and POST alike: every request made through it is a read (a batch
    lookup is a POST that changes nothing)."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    policy = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=RETRIED_STATUSES,
        allowed_methods=frozenset({"GET", "POST"}),
        raise_on_status=False,
        respect_retry_after_header=False,
    )
    made = requests.Session()
    adapter = HTTPAdapter(max_retries=policy)
    made.mount("http://", adapter)
    made.mount("https://", adapter)
    return made
