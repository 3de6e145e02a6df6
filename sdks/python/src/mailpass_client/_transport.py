"""HTTP over urllib, the JSON envelope, error mapping and retries."""

from __future__ import annotations

import http.client
import json
import random
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from . import errors

VERSION = "0.1.0"
USER_AGENT = f"mailpass-python/{VERSION}"
MAX_RETRY_AFTER = 60.0  # a longer Retry-After is raised, not waited for
MAX_BACKOFF = 8.0
EXCERPT_CHARS = 200


class Transport:
    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        timeout: float,
        max_retries: int,
        retry_on_send_limit: bool,
        backoff: float,
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_on_send_limit = retry_on_send_limit
        self.backoff = backoff
        # Our own opener: no proxies from the environment see the key, no redirects followed.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, api_key='[hidden]')"

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        url = self.base_url + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key

        attempt = 0
        while True:
            try:
                return self._once(method, url, data, headers)
            except errors.MailPassError as error:
                wait = self._retry_wait(error, attempt)
                if wait is None:
                    raise
            time.sleep(wait)
            attempt += 1

    def _once(
        self, method: str, url: str, data: bytes | None, headers: dict[str, str]
    ) -> dict[str, Any]:
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                if response.status == 204:  # "No Content": no envelope to decode
                    return {"success": True, "data": None}
                return _decode_success(response.status, response.read())
        except urllib.error.HTTPError as answer:
            with answer:
                raise _api_error(answer.code, answer.read(), answer.headers) from None
        except (socket.timeout, TimeoutError) as timeout:
            raise errors.RequestTimeoutError(
                f"MailPass did not answer within {self.timeout:g} s ({method} {_path(url)})"
            ) from timeout
        except urllib.error.URLError as failure:
            if isinstance(failure.reason, (socket.timeout, TimeoutError)):
                raise errors.RequestTimeoutError(
                    f"MailPass did not answer within {self.timeout:g} s ({method} {_path(url)})"
                ) from None
            raise errors.NetworkError(
                f"could not reach MailPass at {self.base_url}: {failure.reason}"
            ) from None
        except (OSError, http.client.HTTPException) as failure:
            raise errors.NetworkError(
                f"the connection to MailPass at {self.base_url} failed: {failure!r}"
            ) from None

    def _retry_wait(self, error: errors.MailPassError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None: raise."""
        if attempt >= self.max_retries or not _retryable(error, self.retry_on_send_limit):
            return None
        backoff = min(self.backoff * 2**attempt, MAX_BACKOFF)
        backoff = backoff / 2 + random.uniform(0, backoff / 2)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            if retry_after > MAX_RETRY_AFTER:
                return None
            return max(backoff, retry_after)
        return backoff


def _retryable(error: errors.MailPassError, retry_on_send_limit: bool) -> bool:
    if isinstance(error, errors.NetworkError):
        return True
    if isinstance(error, errors.RateLimitedError):
        return True
    if isinstance(error, errors.SendLimitExceededError):
        return retry_on_send_limit
    if isinstance(error, errors.SendFailedError):
        return False
    return isinstance(error, errors.ApiError) and error.status >= 500


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[-1] if url.count("/") >= 3 else url


def _excerpt(raw: bytes) -> str:
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")


def _decode_success(status: int, raw: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        raise errors.ApiError(
            f"MailPass answered {status} with something that is not JSON: {_excerpt(raw)}",
            code=errors.UNEXPECTED_RESPONSE,
            status=status,
        )
    return decoded


def _api_error(status: int, raw: bytes, headers: Any) -> errors.ApiError:
    retry_after = _seconds(headers.get("Retry-After"))
    try:
        envelope = json.loads(raw)
        error = envelope["error"]
        code, message = str(error["code"]), str(error["message"])
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
    except (ValueError, KeyError, TypeError):
        return errors.ApiError(
            f"MailPass answered {status} without its JSON error: {_excerpt(raw)}",
            code=errors.UNEXPECTED_RESPONSE,
            status=status,
            retry_after=retry_after,
        )
    if retry_after is None:
        retry_after = _seconds(details.get("retry_after"))
    cls = errors.ERRORS_BY_CODE.get(code, errors.ApiError)
    return cls(message, code=code, status=status, details=details, retry_after=retry_after)


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
