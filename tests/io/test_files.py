"""File helpers of the file kinds: the quick digest, from a file and from bytes in hand."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.io import files
from assetflow.io.files import bytes_digest, quick_digest

WHOLE = files._WHOLE_FILE_DIGEST_BYTES
EDGE = files._DIGEST_EDGE_BYTES

#: Sizes on both sides of where a file stops being digested whole.
SIZES = st.sampled_from([0, 1, EDGE, WHOLE - 1, WHOLE, WHOLE + 1, 2 * WHOLE + 7]) | st.integers(
    min_value=0, max_value=3 * WHOLE
)


@settings(max_examples=40, deadline=None)
@given(size=SIZES, seed=st.binary(min_size=1, max_size=64))
def test_the_digest_of_bytes_is_the_digest_of_the_file_holding_them(size: int, seed: bytes) -> None:
    data = (seed * (size // len(seed) + 1))[:size]
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "out.bin"
        path.write_bytes(data)
        assert bytes_digest(data) == quick_digest(path)


def test_a_large_file_is_told_apart_by_its_edges_and_its_size(tmp_path: Path) -> None:
    middle = WHOLE
    base = b"h" * EDGE + b"m" * middle + b"t" * EDGE
    assert bytes_digest(base) != bytes_digest(b"x" + base[1:])  # head
    assert bytes_digest(base) != bytes_digest(base[:-1] + b"x")  # tail
    longer = base[:EDGE] + b"m" + base[EDGE:]
    assert bytes_digest(base) != bytes_digest(longer)  # the same edges, another size
    # The middle of a large file is not read: that is what keeps the digest cheap.
    same_edges = base[:EDGE] + b"n" * middle + base[-EDGE:]
    assert bytes_digest(base) == bytes_digest(same_edges)


def test_an_unreadable_file_has_no_digest(tmp_path: Path) -> None:
    assert quick_digest(tmp_path / "missing.json") is None
