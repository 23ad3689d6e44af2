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

import requests

from trialmatch import __version__
from trialmatch.errors import ApiError

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
    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


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
        """GET `{base}/{endpoint}` and decode a JSON object, retrying transient failures."""
        url = f"{self.base_url}/{endpoint.lstrip('/')}"
        policy = self.policy
        attempt = 0
        while True:
            try:
                return self._attempt(url, params)
            except _Retryable as problem:
                if attempt >= policy.max_retries:
                    raise ApiError(
                        f"{url} failed after {attempt + 1} attempts: {problem.reason}",
                        hint="the API may be down; try again later or check --api-url",
                    ) from None
                delay = min(policy.backoff * (2**attempt), policy.max_backoff)
                delay += random.uniform(0, delay)  # jitter: keeps clients from synchronising
                if problem.wait is not None:
                    delay = max(delay, problem.wait)
                log.info("%s: %s; retrying in %.1fs", url, problem.reason, delay)
                self._sleep(delay)
                attempt += 1

    def _attempt(self, url: str, params: dict[str, Any] | None) -> dict[str, Any]:
        self._space_requests()
        try:
            response = self.session.get(url, params=params, timeout=self.policy.timeout)
        except requests.Timeout:
            raise _Retryable(f"no answer within {self.policy.timeout:g}s") from None
        except requests.ConnectionError as error:
            raise _Retryable(f"connection failed ({_short(error)})") from None
        except requests.RequestException as error:
            raise ApiError(f"{url}: {_short(error)}") from None
        status = response.status_code
        if status == 429:
            wait = _retry_after(response.headers.get("Retry-After"))
            if wait is not None and wait > self.policy.max_retry_after:
                raise ApiError(
                    f"{url} is rate-limited for {wait:.0f}s (HTTP 429)",
                    hint="try again later",
                )
            raise _Retryable("rate-limited (HTTP 429)", wait)
        if status >= 500:
            raise _Retryable(f"server error (HTTP {status})")
        if status >= 400:
            raise RequestRejected(
                f"{url} refused the request (HTTP {status}): {_body_hint(response)}"
            )
        try:
            document = response.json()
        except (ValueError, requests.exceptions.ChunkedEncodingError):
            # A truncated or garbled body is usually a dropped connection: worth a retry.
            raise _Retryable("the answer is not valid JSON (truncated?)") from None
        if not isinstance(document, dict):
            raise ApiError(f"{url} answered with a JSON {type(document).__name__}, not an object")
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


def _short(error: Exception) -> str:
    return str(error).splitlines()[0][:160] if str(error) else type(error).__name__


def _body_hint(response: requests.Response) -> str:
    try:
        document = response.json()
    except (ValueError, json.JSONDecodeError):
        return response.text.strip().splitlines()[0][:160] if response.text.strip() else ""
    if isinstance(document, dict) and "message" in document:
        return str(document["message"])[:160]
    return str(document)[:160]
