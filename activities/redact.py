"""Scrub credentials out of text that leaves the worker: error messages, failure details,
metric labels, log lines and (for values a request itself sent) results.

Three things are removed:

- URL userinfo: ``https://user:pass@host/x`` becomes ``https://***@host/x``;
- ``Authorization``-style credentials: ``Bearer xyz`` / ``Basic xyz`` become ``Bearer ***``;
- known secret values: the credentials one request sent (header values from ``${env:NAME}``,
  a function key, an access token, a URL password), in their raw, JSON-escaped and
  URL-encoded spellings, because an echoing endpoint may return any of them.

Everything that crosses from the activity to workflow history, metrics or logs goes through
:class:`Redactor` (or :func:`scrub_text` when no secret value is known), so a new provider
cannot forget one of the three.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

MASK = "***"

#: ``scheme://userinfo@`` (userinfo has no ``/``, ``?``, ``#`` or ``@``; RFC 3986 §3.2.1).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]*)@")
#: An RFC 6750 b64token / RFC 7617 token68 after an auth scheme name (the usual spellings: a
#: case-insensitive match would also mask prose such as "basic checks").
_AUTH_SCHEME = re.compile(
    r"\b(?P<scheme>[Bb]earer|BEARER|Basic|BASIC)(?P<sep>\s+)[A-Za-z0-9._~+/-]+=*"
)


def strip_userinfo(text: str) -> str:
    """``text`` with the userinfo of every URL in it masked (``http://***@host/...``)."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)


def scrub_text(text: str) -> str:
    """``text`` without URL userinfo and ``Bearer``/``Basic`` credentials (no known values)."""
    return _AUTH_SCHEME.sub(lambda m: f"{m['scheme']}{m['sep']}{MASK}", strip_userinfo(text))


def _variants(secret: str) -> set[str]:
    """The spellings of ``secret`` an echoing endpoint may return."""
    spellings = {secret, json.dumps(secret)[1:-1], quote(secret, safe="")}
    return {s for s in spellings if s}


class Redactor:
    """Scrubs the credentials of one request (and the generic patterns) from text and data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Also redact ``secret`` (None or empty: nothing to redact)."""
        if secret:
            self._values |= _variants(secret)

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._values)

    def text(self, text: str) -> str:
        """``text`` without the known values, URL userinfo or auth-scheme credentials."""
        # Longest first, so a secret containing another is masked whole.
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return scrub_text(text)

    def values(self, data: Any) -> Any:
        """``data`` (JSON-like) with the known secret values masked in every string, keys
        included; the generic patterns are left alone (a result may legitimately hold a
        token it issued, but never the credential this request sent)."""
        if not self._values:
            return data
        if isinstance(data, str):
            for value in sorted(self._values, key=len, reverse=True):
                data = data.replace(value, MASK)
            return data
        if isinstance(data, dict):
            return {self.values(k): self.values(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.values(v) for v in data]
        return data

    def details(self, data: Any) -> Any:
        """``data`` for failure details: known values and generic patterns masked."""
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, dict):
            return {self.details(k): self.details(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.details(v) for v in data]
        return data


__all__ = ["MASK", "Redactor", "scrub_text", "strip_userinfo"]
