"""lsvd.io.hashing: the one hashing scheme (file_sha256, digest)."""

from __future__ import annotations

import hashlib

from lsvd.io.hashing import DIGEST_LENGTH, digest, file_sha256


def test_file_sha256_is_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "w.bin"
    data = bytes(range(256)) * 5000  # several read chunks
    path.write_bytes(data)
    assert file_sha256(path, chunk=4096) == hashlib.sha256(data).hexdigest() == file_sha256(path)


def test_digest_is_canonical_and_short():
    a = digest({"b": 1, "a": [1, 2.5, "x"], "c": {"z": None, "y": True}})
    b = digest({"c": {"y": True, "z": None}, "a": [1, 2.5, "x"], "b": 1})  # key order does not matter
    assert a == b and len(a) == DIGEST_LENGTH and int(a, 16) >= 0
    assert digest({"a": [1, 2.5, "x"], "b": 2, "c": {"y": True, "z": None}}) != a  # values do
    assert digest([1, 2]) != digest([2, 1]) and len(digest("x", length=40)) == 40
    assert digest({"p": __import__("pathlib").Path("/a")}) == digest({"p": "/a"})  # other values by str
