"""Credentials: the secret is never shown, the key only masked."""

from __future__ import annotations

import copy
import pickle

import pytest

from conformance.credentials import Credentials, mask_key, redact

KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"  # Binance's documentation example
SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"


def test_credentials_hide_the_secret_and_mask_the_key() -> None:
    creds = Credentials(KEY, SECRET)
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds]), repr({"c": creds})):
        assert SECRET not in text
        assert KEY not in text
        assert "…cc83" in text
    assert creds.api_secret == SECRET
    assert creds == Credentials(KEY, SECRET)
    assert creds != Credentials(KEY, "another")


def test_credentials_refuse_pickling_without_showing_the_secret() -> None:
    with pytest.raises(TypeError) as caught:
        pickle.dumps(Credentials(KEY, SECRET))
    assert SECRET not in str(caught.value)


def test_invalid_credentials_do_not_echo_values() -> None:
    with pytest.raises(ValueError, match="api_key") as caught:
        Credentials("", SECRET)
    assert SECRET not in str(caught.value)


def test_copies_are_the_same_credentials() -> None:
    creds = Credentials(KEY, SECRET)
    assert copy.copy(creds) is creds
    assert copy.deepcopy({"a": creds})["a"] is creds


def test_mask_key_keeps_the_last_four_characters() -> None:
    assert mask_key(KEY) == "…cc83"
    assert mask_key("abcd") == "…"


def test_redact_removes_every_secret() -> None:
    own, other = Credentials("k1", "s3cr3t-one"), Credentials("k2", "s3cr3t-two")
    assert redact("a=s3cr3t-one&b=s3cr3t-two&c=k1", own, other) == "a=<redacted>&b=<redacted>&c=k1"
