"""An account's API key and secret, and keeping them out of everything people read.

The secret is used for one thing, the HMAC (:mod:`conformance.signing`). It is not in ``repr`` or ``str``,
cannot be pickled, and :func:`redact` removes it from any text that is about to be recorded or shown. The
key is shown masked to its last 4 characters.
"""

from __future__ import annotations

import hmac
from typing import Any

REDACTED = "<redacted>"


def mask_key(api_key: str) -> str:
    """An API key as shown to people: its last 4 characters only."""
    return "…" + api_key[-4:] if len(api_key) > 4 else "…"


class Credentials:
    """An API key and its secret. Neither ``repr`` nor ``str`` shows the secret; the key is masked."""

    __slots__ = ("_secret", "api_key")

    def __init__(self, api_key: str, api_secret: str) -> None:
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("api_key must be a non-empty string")
        if not isinstance(api_secret, str) or not api_secret:
            raise ValueError("api_secret must be a non-empty string")
        self.api_key = api_key
        self._secret = api_secret

    @property
    def api_secret(self) -> str:
        return self._secret

    @property
    def masked_key(self) -> str:
        return mask_key(self.api_key)

    def __repr__(self) -> str:
        return f"Credentials(api_key={self.masked_key!r}, api_secret={REDACTED})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return self.api_key == other.api_key and hmac.compare_digest(
            self._secret.encode("utf-8"), other._secret.encode("utf-8")
        )

    def __hash__(self) -> int:
        return hash(self.api_key)

    def __copy__(self) -> Credentials:  # immutable: a copy is the same object
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Credentials:
        return self

    def __reduce__(self) -> Any:  # a pickle would carry the secret in clear
        raise TypeError("Credentials cannot be pickled")


def redact(text: str, *credentials: Credentials) -> str:
    """``text`` with every secret of ``credentials`` replaced by ``<redacted>``."""
    for account in credentials:
        text = text.replace(account.api_secret, REDACTED)
    return text
