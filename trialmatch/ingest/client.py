"""A small, polite HTTP client for the ClinicalTrials.gov API v2 (or any server speaking it).

Every request has a timeout. Connection errors, timeouts, 429 and 5xx answers and unreadable
JSON bodies are retried with exponential backoff and jitter (a 429's Retry-After is honoured);
requests are spaced by a minimum interval. When the API stays down the caller gets one
`ApiError` with a one-line message.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import requests

from trialmatch import __version__
from trialmatch.errors import ApiError, one_line

log = logging.getLogger(__name__)


@dataclass
class RetryPolicy:
    """How hard to try. Tests shrink the delays; defaults suit a nightly cron job.

    ClinicalTrials.gov asks for about 50 requests a minute at most, hence `min_interval`.
    """

    timeout: float = 60.0  # seconds, for connecting and for each read
    max_retries: int = 5  # retries after the first attempt
    backoff: float = 2.0  # first delay; doubles each retry, plus up to as much jitter
    max_backoff: float = 120.0
    max_retry_after: float = 300.0  # longest Retry-After we agree to wait
    min_interval: float = 1.3  # seconds between the starts of two requests


class RequestRejected(ApiError):
    """The API refused a request outright (HTTP 4xx other than 429): retrying cannot help."""


class _Retryable(Exception):
    def __init__(self, reason: str, wait: float | None = None, check: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.check = check  # what the user should check if this failure persists


class CtgovClient:
    """`GET {base}/studies` and `GET {base}/version` with retries; answers are JSON dicts."""

    def __init__(
        self,
        base_url: str,
        *,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", f"trialmatch/{__version__}")
        self.session.headers["Accept"] = "application/json"
        self._sleep = sleep
        self._last_request = 0.0
        self._lock = threading.Lock()

    def version(self) -> dict[str, Any]:
        """The API's version document, with `dataTimestamp` (when the data was last updated)."""
        return self.get_json("version")

    def studies_page(self, params: dict[str, Any]) -> dict[str, Any]:
        """One page of `GET {base}/studies`; checks that it holds a `studies` list."""
        page = self.get_json("studies", params)
        if not isinstance(page.get("studies"), list):
            raise ApiError(
                f"{self.base_url}/studies answered without a 'studies' list "
                f"(keys: {', '.join(sorted(page))[:80] or 'none'})"
            )
        return page

    def get_json(self, endpoint: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET `{base}/{endpoint}` and decode a JSON object, retrying transient failures.

        Each retry is logged as a warning (a cron log then shows why a run took long); the
        final failure is one complete line: what failed, after how many attempts and how
        long, and what to check.
        """
        url = f"{self.base_url}/{endpoint.lstrip('/')}"
        policy = self.policy
        attempt = 0
        began = time.monotonic()
        while True:
            try:
                return self._attempt(url, params)
            except _Retryable as problem:
                if attempt >= policy.max_retries:
                    elapsed = time.monotonic() - began
                    raise ApiError(
                        f"GET {url} failed after {attempt + 1} attempts over "
                        f"{elapsed:.0f} s: {problem.reason}",
                        hint=problem.check or "the API may be down; try again later",
                    ) from None
                delay = min(policy.backoff * (2**attempt), policy.max_backoff)
                delay += random.uniform(0, delay)  # jitter: keeps clients from synchronising
                if problem.wait is not None:
                    delay = max(delay, problem.wait)
                log.warning("GET %s: %s; attempt %d of %d in %.1f s", url, problem.reason,
                            attempt + 2, policy.max_retries + 1, delay)
                self._sleep(delay)
                attempt += 1

    def _attempt(self, url: str, params: dict[str, Any] | None) -> dict[str, Any]:
        self._space_requests()
        try:
            response = self.session.get(url, params=params, timeout=self.policy.timeout)
        except requests.Timeout:
            raise _Retryable(f"no answer within {self.policy.timeout:g}s",
                             check="the API may be slow or down; try again later, or check "
                             "--api-url and the network") from None
        except requests.ConnectionError as error:
            reason, check = describe_connection_error(error, url)
            raise _Retryable(reason, check=check) from None
        except requests.RequestException as error:
            raise ApiError(f"GET {url}: {_short(error)}",
                           hint="check --api-url") from None
        status = response.status_code
        if status == 429:
            wait = _retry_after(response.headers.get("Retry-After"))
            if wait is not None and wait > self.policy.max_retry_after:
                raise ApiError(
                    f"GET {url} is rate-limited for {wait:.0f} s (HTTP 429, Retry-After)",
                    hint="try again later",
                )
            raise _Retryable("rate-limited (HTTP 429)", wait)
        if status >= 500:
            raise _Retryable(f"server error (HTTP {status})",
                             check="the API is failing; try again later")
        if status >= 400:
            hint = ("check that --api-url is the API's base URL, e.g. "
                    "https://clinicaltrials.gov/api/v2" if status == 404 else
                    "check the refresh options (--status, --condition)")
            raise RequestRejected(
                f"GET {url} was refused (HTTP {status}): {_body_hint(response)}", hint=hint
            )
        try:
            document = response.json()
        except (ValueError, requests.exceptions.ChunkedEncodingError):
            # A truncated or garbled body is usually a dropped connection: worth a retry.
            raise _Retryable("the answer is not valid JSON (truncated?)",
                             check="the API or a proxy is cutting answers short; try again "
                             "later") from None
        if not isinstance(document, dict):
            raise ApiError(f"GET {url} answered with a JSON {type(document).__name__}, not an "
                           "object", hint="check that --api-url points at the API")
        return document

    def _space_requests(self) -> None:
        with self._lock:
            wait = self._last_request + self.policy.min_interval - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            self._last_request = time.monotonic()


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# Words in a requests/urllib3 connection error (its text nests three exceptions deep) and
# what they mean to someone reading a cron log.
_CONNECTION_PROBLEMS = (
    (("refused",), "connection refused by {host}",
     "check --api-url (host and port) and that the server is running"),
    (("name or service not known", "nodename nor servname", "name resolution",
      "getaddrinfo failed", "no address associated"), "host name {host} not found",
     "check the host name in --api-url and the machine's DNS"),
    (("certificate", "ssl", "tls"), "TLS handshake with {host} failed",
     "check the server's certificate, or use http:// for a local mirror"),
    (("network is unreachable", "no route to host"), "no route to {host}",
     "check the network connection and any proxy settings"),
    (("reset by peer", "aborted", "remotedisconnected", "closed connection",
      "without response"), "{host} closed the connection",
     "the API may be restarting; try again later"),
)


def describe_connection_error(error: Exception, url: str) -> tuple[str, str]:
    """A connection failure in words ("connection refused by 127.0.0.1:9"), and what to
    check; requests' own text is a nested repr that logs cut mid-word."""
    parsed = urlparse(url)
    host = parsed.netloc or url
    text = str(error).lower()
    for needles, reason, check in _CONNECTION_PROBLEMS:
        if any(needle in text for needle in needles):
            return reason.format(host=host), check
    return (f"connection to {host} failed ({type(error).__name__})",
            "check --api-url and the network")


def _short(error: Exception) -> str:
    return one_line(str(error), 160) if str(error) else type(error).__name__


def _body_hint(response: requests.Response) -> str:
    try:
        document = response.json()
    except (ValueError, json.JSONDecodeError):
        return one_line(response.text, 160) if response.text.strip() else "no message"
    if isinstance(document, dict) and "message" in document:
        return one_line(str(document["message"]), 160)
    return one_line(str(document), 160)
