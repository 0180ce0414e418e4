"""Receiver-side ``verify_signature``: True only for a well-formed, fresh, correctly signed delivery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise import ConfigError
from stagewise.notify import sign_payload, verify_signature

NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
STAMP = str(int(NOW.timestamp()))
SECRET = "hunter2"
BODY = b'{"event": "alert"}'
GOOD = sign_payload(SECRET, STAMP, BODY)

# Anything a header parser, a test client or a careless caller could hand over.
anything = st.one_of(
    st.none(),
    st.text(),
    st.binary(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=2),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "", " ", "١٧١٤٥٥٥٨٠٠", STAMP + "\n"]),
)


@pytest.mark.parametrize(
    ("body", "timestamp", "signature"),
    [
        pytest.param(BODY, STAMP, None, id="missing-signature-header"),
        pytest.param(BODY, None, GOOD, id="missing-timestamp-header"),
        pytest.param(BODY, STAMP, "sha256=é" + GOOD[8:], id="non-ascii-signature"),
        pytest.param(BODY, STAMP, GOOD.encode(), id="bytes-signature"),
        pytest.param(BODY, "nan", sign_payload(SECRET, "nan", BODY), id="nan-timestamp-correctly-signed"),
        pytest.param(BODY, "inf", sign_payload(SECRET, "inf", BODY), id="inf-timestamp-correctly-signed"),
        pytest.param(BODY, "١٧١٤٥٥٥٨٠٠", GOOD, id="non-ascii-digits-timestamp"),
        pytest.param(BODY, STAMP.encode(), GOOD, id="bytes-timestamp"),
        pytest.param(BODY.decode(), STAMP, GOOD, id="str-body"),
        pytest.param(None, STAMP, GOOD, id="missing-body"),
    ],
)
def test_malformed_deliveries_are_refused_not_raised(
    body: object, timestamp: object, signature: object
) -> None:
    assert verify_signature(SECRET, body, timestamp, signature, now=NOW) is False


def test_a_well_formed_delivery_still_verifies() -> None:
    assert verify_signature(SECRET, BODY, STAMP, GOOD, now=NOW) is True
    assert verify_signature(SECRET, bytearray(BODY), STAMP, GOOD, now=NOW) is True


@settings(max_examples=300, deadline=None)
@given(secret=anything, body=anything, timestamp=anything, signature=anything)
def test_arbitrary_inputs_give_false_never_an_exception(
    secret: object, body: object, timestamp: object, signature: object
) -> None:
    assert verify_signature(secret, body, timestamp, signature, now=NOW) is False


@settings(max_examples=200, deadline=None)
@given(body=st.binary(), offset=st.integers(-299, 299), secret=st.text(min_size=1))
def test_every_fresh_correct_signature_verifies_and_any_change_breaks_it(
    body: bytes, offset: int, secret: str
) -> None:
    stamp = str(int(NOW.timestamp()) + offset)
    signature = sign_payload(secret, stamp, body)
    assert verify_signature(secret, body, stamp, signature, now=NOW) is True
    assert verify_signature(secret, body + b"x", stamp, signature, now=NOW) is False
    assert verify_signature(secret, body, stamp, signature.upper(), now=NOW) is False


@pytest.mark.parametrize("tolerance", [float("nan"), -1.0, float("inf"), "300"])
def test_a_bad_tolerance_is_a_configuration_error(tolerance: object) -> None:
    with pytest.raises(ConfigError, match="tolerance"):
        verify_signature(SECRET, BODY, STAMP, GOOD, tolerance=tolerance, now=NOW)
