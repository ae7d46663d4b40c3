"""The batch HMAC that computes every linkage key must equal Python's own HMAC."""

from __future__ import annotations

import hmac
import os

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.keys import batch_hmac
from tests.conftest import IN_CI


def _reference(key: bytes, messages: list[bytes | None]) -> list[bytes | None]:
    return [None if m is None else hmac.digest(key, m, "sha256") for m in messages]


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=1, max_size=100),
    messages=st.lists(st.one_of(st.none(), st.binary(max_size=300),
                                st.text(max_size=40).map(str.encode)), max_size=50),
)
def test_batch_hmac_equals_python_hmac(key, messages):
    out = batch_hmac.hmac_sha256_column(key, pa.array(messages, pa.binary()))
    assert out.type == pa.binary(32)
    assert out.to_pylist() == _reference(key, messages)


def test_batch_hmac_on_hangul_sliced_and_chunked_input():
    key = os.urandom(32)
    values = ["김민준\x1f1956-01-08\x1fM", "", "이서연", None, "JOHN SMITH"] * 2000
    messages = pa.array([None if v is None else v.encode() for v in values], pa.binary())
    sliced = messages.slice(3, 5000)
    assert batch_hmac.hmac_sha256_column(key, sliced).to_pylist() == \
        _reference(key, sliced.to_pylist())
    chunked = pa.chunked_array([messages.slice(0, 10), messages.slice(10, 100)])
    assert batch_hmac.hmac_sha256_column(key, chunked, threads=2).to_pylist() == \
        _reference(key, chunked.to_pylist())


def test_fallback_gives_the_same_keys(monkeypatch):
    """Where the helper could not be built, the column is hashed all the same: the same
    bytes, nulls kept, slices and chunks read at their offsets."""
    key = os.urandom(32)
    messages = pa.array([b"a", None, "홍길동".encode(), b"x" * 200, b""] * 3, pa.binary())
    native = batch_hmac.hmac_sha256_column(key, messages.slice(2, 9)).to_pylist()
    monkeypatch.setattr(batch_hmac, "_hmac_batch", None)
    assert batch_hmac.hmac_sha256_column(key, messages.slice(2, 9)).to_pylist() == native \
        == _reference(key, messages.slice(2, 9).to_pylist())
    chunked = pa.chunked_array([messages.slice(0, 4), messages.slice(4, 11)])
    assert batch_hmac.hmac_sha256_column(key, chunked).to_pylist() == \
        _reference(key, chunked.to_pylist())
    assert batch_hmac.hmac_sha256_column(key, chunked).type == batch_hmac.DIGEST_TYPE


def test_native_hmac_is_built_where_the_project_is_installed():
    if not batch_hmac.native_available():
        if IN_CI:
            pytest.fail("the OpenSSL batch HMAC extension was not built")
        pytest.skip("the OpenSSL batch HMAC extension is not built (no compiler or headers)")
