"""Admitting a signed request: the order of the security checks, each decided by the rulebook.

The order is the contract's: API key; mandatory parameters and the timestamp's format; the timestamp
window; the signature. Business rules come after, in the endpoint. A request with two faults therefore
gets the error of the first check it fails; the contract lets cases expect either.
"""

from __future__ import annotations

from collections.abc import Iterable

from conformance.venue import errors
from conformance.venue.accounts import Account
from conformance.venue.params import RequestData
from conformance.venue.rules import Rules


def authenticate(request: RequestData, rules: Rules, *, mandatory: Iterable[str], now: int) -> Account:
    """The account a signed request acts for, or the `VenueError` of the first check it fails."""
    account = rules.account_for(request.api_key)
    for name in mandatory:
        request.require(name)
    timestamp = rules.parse_timestamp(request)
    recv_window = rules.parse_recv_window(request)
    signature = rules.read_signature(request)
    rules.check_recv_window(recv_window)
    rules.check_timestamp(timestamp, recv_window, now)
    if signature is not None and not _signed_by(account, signature, request, rules):
        raise errors.signature_invalid()
    return account


def _signed_by(account: Account, signature: str, request: RequestData, rules: Rules) -> bool:
    return any(
        rules.signature_matches(signature, payload, secret)
        for payload in rules.signature_payloads(request)
        for secret in rules.signing_secrets(account)
    )
