"""Data versions: a deterministic content hash of an asset's output, never by pickling.

A data version answers "did this output change?" across processes, machines
and days, so it hashes what assetflow stores, in a canonical form, with
XXH3-128 (a fast, frozen, non-cryptographic hash: right for change detection,
not for defending against someone forging collisions). A version is 32
lowercase hex characters.

**Tables** (a pandas DataFrame, a pyarrow Table) hash their Arrow form: the very
table that is written to Parquet (``assetflow.io.parquet.to_arrow_table``; a
DataFrame is converted once and the conversion is shared with writing). What
counts:

- the column names, their order, and their logical Arrow types;
- every value, and which values are null;
- the pandas index, when it is data (named, or of dates, strings, levels): it
  is stored as columns (``assetflow.io.parquet.frame_to_arrow``). Unnamed integer
  labels (a ``RangeIndex``, or what filtering and sorting leave) are not stored,
  so they do not count: a DataFrame with them has the same version as the
  pyarrow Table of its columns;
- for a category (dictionary) column: its categories, in their order, unused
  ones included. Parquet stores them and pandas reads them back, and their order
  decides the row order of ``groupby`` and ``sort_values``. A category column
  and a plain column of the same strings therefore have different versions.

What does not count, because it is physical layout that a reader cannot see:
chunking and slice offsets, buffer padding and the bytes under null slots,
the offset width of strings, binaries and lists (``string``, ``large_string``
and ``string_view`` are one type), the integer width of dictionary indices,
the name of a list's item field, field nullability, and schema metadata. In
particular pandas 3's ``str`` column and an ``object`` column holding the
same strings have the same version: both are written as the same strings and
pandas 3 reads both back as ``str``. Likewise ``Int64`` and ``int64`` columns
holding the same numbers: the difference lives only in pandas' metadata.

Values hash by their bits, so ``0.0`` and ``-0.0`` differ; a float NaN in a
DataFrame is a null once converted, so all NaNs are equal there. Buffers are
hashed as they are in memory, which is little-endian on every platform
pyarrow ships wheels for.

**JSON values** (dict, list, tuple, str, int, float, bool, None, pydantic
models) hash their canonical JSON text (``assetflow.io.values.to_json_value``,
then sorted keys, no whitespace, UTF-8). Key order does not count; ``1`` and
``1.0`` differ, as they do in the file; a pydantic model hashes as its
``model_dump(mode="json")``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import xxhash

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

logger = logging.getLogger(__name__)

#: Bumped whenever the canonical form changes, so old and new versions never collide.
SCHEME = b"assetflow.data_version/1\x00"
#: A dictionary column's codes are hashed in the narrowest unsigned type that can
#: address its dictionary: (largest dictionary size, numpy type).
_CODE_WIDTH_LIMITS = ((1 << 8, "uint8"), (1 << 16, "uint16"), (1 << 32, "uint32"))


def json_version(value: object) -> str:
    """Return the data version of a JSON value, as made by ``assetflow.io.values.to_json_value``
    (plain dicts with str keys, lists, str, int, float, bool and None)."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return xxhash.xxh3_128_hexdigest(SCHEME + b"json\x00" + text.encode("utf-8"))


def table_version(table: pa.Table) -> str:
    """Return the data version of an Arrow table: its logical schema and values.

    Args:
        table: The table as it is written (see ``to_arrow_table``).

    Returns:
        32 hex characters, independent of chunking, slicing and string offset widths.
    """
    header = {
        "columns": [[field.name, _type_text(field.type)] for field in table.schema],
        "rows": table.num_rows,
        "range_index": _non_default_range_index(table),
    }
    hasher = xxhash.xxh3_128(SCHEME + b"table\x00")
    hasher.update(_canonical_json(header))
    streams = _Streams()
    for position, column in enumerate(table.columns):
        _feed_column(column, str(position), streams)
    streams.fold_into(hasher)
    return hasher.hexdigest()


class _Streams:
    """Hashers fed value by value, each for one part (nulls, lengths, values) of one path.

    A path is a column ("3") or a child inside it ("3/item", "3/0", "3/dictionary").
    Each stream receives a path's data in row order, whatever the chunking, and
    null positions are counted from the path's first row, so a table hashes the
    same however it is split into chunks.
    """

    def __init__(self) -> None:
        self._hashers: dict[tuple[str, str], xxhash.xxh3_128] = {}
        self._rows: dict[str, int] = {}

    def advance(self, path: str, count: int) -> int:
        """Count ``count`` more rows at ``path``; return how many came before them."""
        start = self._rows.get(path, 0)
        if count:  # an empty chunk must leave no trace: no chunk at all leaves none
            self._rows[path] = start + count
        return start

    def feed(self, path: str, part: str, data: object) -> None:
        """Append ``data`` (bytes, or a contiguous numpy array) to one stream."""
        key = (path, part)
        hasher = self._hashers.get(key)
        if hasher is None:
            hasher = self._hashers[key] = xxhash.xxh3_128()
        hasher.update(data)  # type: ignore[arg-type]

    def fold_into(self, hasher: xxhash.xxh3_128) -> None:
        """Add every path's row count and every stream's digest to ``hasher``, sorted."""
        for path in sorted(self._rows):
            hasher.update(f"{path}\x00rows\x00{self._rows[path]}\x00".encode())
        for path, part in sorted(self._hashers):
            hasher.update(f"{path}\x00{part}\x00".encode())
            hasher.update(self._hashers[path, part].digest())


def _feed_column(column: pa.ChunkedArray, path: str, streams: _Streams) -> None:
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        _feed_dictionary_column(column, path, streams)
        return
    for chunk in column.chunks:
        _feed(chunk, path, streams)


def _feed(array: pa.Array, path: str, streams: _Streams) -> None:
    """Feed one chunk of ``path`` into its streams: null positions, then its values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = _logical_layout(array)
    length = len(array)
    start = streams.advance(path, length)
    kind = array.type
    if length == 0 or pa.types.is_null(kind):
        return
    nulls = None
    if array.null_count:
        nulls = pc.indices_nonzero(array.is_null()).to_numpy()
        streams.feed(path, "nulls", nulls + start)
    if pa.types.is_boolean(kind):
        _feed_booleans(array, path, streams, nulls)
    elif _is_binary_like(kind):
        _feed_binary(array, path, streams, nulls)
    elif _is_list_like(kind):
        _feed_lists(array, path, streams, nulls)
    elif pa.types.is_struct(kind):
        for index, child in enumerate(array.flatten()):  # flatten applies offset and nulls
            _feed(child, f"{path}/{index}", streams)
    elif _byte_width(kind):
        _feed_fixed_width(array, path, streams, nulls)
    else:  # unions and run-end encoding, which Parquet cannot store anyway
        for value in array.to_pylist():
            streams.feed(path, "python", _canonical_json(value, default=repr) + b"\n")


def _logical_layout(array: pa.Array) -> pa.Array:
    """Rewrite layouts that need no hashing of their own into ones that are hashed."""
    import pyarrow as pa

    kind = array.type
    if isinstance(kind, pa.BaseExtensionType):
        return _logical_layout(array.storage)
    if pa.types.is_dictionary(kind):  # nested in a list or struct: hash the values
        return _logical_layout(array.dictionary_decode())
    if pa.types.is_string_view(kind):
        return array.cast(pa.large_string())
    if pa.types.is_binary_view(kind):
        return array.cast(pa.large_binary())
    if pa.types.is_list_view(kind) or pa.types.is_large_list_view(kind):  # rare: copy
        return pa.array(array.to_pylist(), pa.large_list(kind.value_field))
    if pa.types.is_map(kind):  # a list of key-value structs
        offsets = pa.array(array.offsets.to_numpy())  # unsliced, as from_arrays requires
        return pa.ListArray.from_arrays(offsets, array.values, mask=array.is_null())
    return array


def _feed_fixed_width(
    array: pa.Array, path: str, streams: _Streams, nulls: np.ndarray | None
) -> None:
    width = _byte_width(array.type)
    values = _buffer_bytes(array.buffers()[1], array.offset * width, len(array) * width)
    if nulls is not None:  # the bytes under a null slot are undefined: zero them
        values = values.reshape(len(array), width).copy()
        values[nulls] = 0
    streams.feed(path, "values", values)


def _feed_booleans(array: pa.Array, path: str, streams: _Streams, nulls: np.ndarray | None) -> None:
    import numpy as np

    first_bit = array.offset % 8
    packed = _buffer_bytes(array.buffers()[1], array.offset // 8, (first_bit + len(array) + 7) // 8)
    values = np.unpackbits(packed, bitorder="little")[first_bit : first_bit + len(array)]
    if nulls is not None:
        values[nulls] = 0
    streams.feed(path, "values", np.ascontiguousarray(values))


def _feed_binary(array: pa.Array, path: str, streams: _Streams, nulls: np.ndarray | None) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    if nulls is not None:  # a null slot may still span bytes: empty it
        is_text = pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
        array = pc.fill_null(array, pa.scalar("" if is_text else b"", array.type))
    offsets = _offsets(array)
    _feed_lengths(offsets, path, streams)
    first, last = int(offsets[0]), int(offsets[-1])
    streams.feed(path, "values", _buffer_bytes(array.buffers()[2], first, last - first))


#: Lengths are computed this many at a time, into one small buffer: a fresh array of
#: them all (40 MB for a 5M-row string column) cost its page faults on every write.
LENGTHS_AT_ONCE = 1 << 16


def _feed_lengths(offsets: np.ndarray, path: str, streams: _Streams) -> None:
    """Feed the lengths between ``offsets`` as int64, in bounded pieces: the stream is
    the same bytes whatever the piece size."""
    import numpy as np

    count = len(offsets) - 1
    piece = np.empty(min(count, LENGTHS_AT_ONCE), dtype=np.int64)
    for start in range(0, count, LENGTHS_AT_ONCE):
        stop = min(start + LENGTHS_AT_ONCE, count)
        lengths = piece[: stop - start]
        np.subtract(offsets[start + 1 : stop + 1], offsets[start:stop], out=lengths)
        streams.feed(path, "lengths", lengths)


def _feed_lists(array: pa.Array, path: str, streams: _Streams, nulls: np.ndarray | None) -> None:
    import numpy as np
    import pyarrow as pa

    if pa.types.is_fixed_size_list(array.type):
        lengths = np.full(len(array), array.type.list_size, dtype=np.int64)
    else:
        lengths = np.diff(_offsets(array)).astype(np.int64)
    if nulls is not None:  # flatten() skips null lists, whatever their offsets span
        lengths[nulls] = 0
    streams.feed(path, "lengths", lengths)
    _feed(array.flatten(), f"{path}/item", streams)


def _feed_dictionary_column(column: pa.ChunkedArray, path: str, streams: _Streams) -> None:
    """Hash a dictionary column as its categories (in order) and one code per row.

    Chunks usually share one dictionary (a DataFrame's categories, or slices of
    one array); chunks that do not are unified first, the way pandas unifies
    them when it reads the column back. Empty chunks are left out, so an empty
    column hashes the same whether it has no chunk or an empty one.
    """
    import pyarrow as pa

    chunks = [chunk for chunk in column.chunks if len(chunk)]  # as if never split
    if not chunks:
        return
    dictionary = chunks[0].dictionary
    if any(not chunk.dictionary.equals(dictionary) for chunk in chunks[1:]):
        chunks = pa.chunked_array(chunks, column.type).unify_dictionaries().chunks
        dictionary = chunks[0].dictionary
    _feed(dictionary, f"{path}/dictionary", streams)
    code_type = _code_type(len(dictionary))
    for chunk in chunks:
        _feed_codes(chunk, path, streams, code_type)


def _feed_codes(chunk: pa.Array, path: str, streams: _Streams, code_type: np.dtype) -> None:
    import numpy as np
    import pyarrow.compute as pc

    length = len(chunk)
    start = streams.advance(path, length)
    if length == 0:
        return
    indices = chunk.indices  # already sliced like the chunk
    index_type = np.dtype(indices.type.to_pandas_dtype())
    codes = np.frombuffer(
        indices.buffers()[1],
        dtype=index_type,
        count=length,
        offset=indices.offset * index_type.itemsize,
    )
    # Indices are never negative, so a same-width unsigned view is exact and free.
    if index_type.itemsize == code_type.itemsize:
        codes = codes.view(code_type)
    else:
        codes = codes.astype(code_type)
    if chunk.null_count:
        nulls = pc.indices_nonzero(chunk.is_null()).to_numpy()
        streams.feed(path, "nulls", nulls + start)
        codes = codes.copy()
        codes[nulls] = 0
    streams.feed(path, "codes", codes)


def _code_type(dictionary_size: int) -> np.dtype:
    """The narrowest unsigned integer for codes into a dictionary: it depends on the
    dictionary alone, never on the index type pandas or pyarrow happened to pick."""
    import numpy as np

    for limit, name in _CODE_WIDTH_LIMITS:
        if dictionary_size <= limit:
            return np.dtype(name)
    return np.dtype("uint64")


def _offsets(array: pa.Array) -> np.ndarray:
    """The ``len + 1`` offsets of a string, binary or list array, as the slice sees them."""
    import numpy as np
    import pyarrow as pa

    kind = array.type
    large = pa.types.is_large_string(kind) or pa.types.is_large_binary(kind)
    large = large or pa.types.is_large_list(kind)
    offset_type = np.dtype(np.int64 if large else np.int32)
    return np.frombuffer(
        array.buffers()[1],
        dtype=offset_type,
        count=len(array) + 1,
        offset=array.offset * offset_type.itemsize,
    )


def _buffer_bytes(buffer: pa.Buffer | None, start: int, size: int) -> np.ndarray:
    """``size`` bytes of ``buffer`` from ``start``, without copying (zeros if absent)."""
    import numpy as np

    if buffer is None:
        return np.zeros(size, dtype=np.uint8)
    return np.frombuffer(buffer, dtype=np.uint8, count=size, offset=start)


def _byte_width(kind: pa.DataType) -> int:
    """Bytes per value of a fixed-width type (ints, floats, temporal, decimals), else 0."""
    try:
        bits = kind.bit_width
    except ValueError:
        return 0
    return bits // 8 if bits % 8 == 0 else 0


def _is_binary_like(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _is_list_like(kind: pa.DataType) -> bool:
    import pyarrow as pa

    types = pa.types
    return bool(types.is_list(kind) or types.is_large_list(kind) or types.is_fixed_size_list(kind))


def _type_text(kind: pa.DataType) -> str:
    """The logical type as text: layout variants of one type have one text."""
    import pyarrow as pa

    types = pa.types
    if isinstance(kind, pa.BaseExtensionType):
        serialize = getattr(kind, "__arrow_ext_serialize__", None)
        parameters = serialize().hex() if serialize is not None else str(kind)
        return f"extension<{kind.extension_name}, {parameters}, {_type_text(kind.storage_type)}>"
    if types.is_string(kind) or types.is_large_string(kind) or types.is_string_view(kind):
        return "string"
    if types.is_binary(kind) or types.is_large_binary(kind) or types.is_binary_view(kind):
        return "binary"
    if types.is_dictionary(kind):
        return f"dictionary<{_type_text(kind.value_type)}, ordered={int(kind.ordered)}>"
    if types.is_map(kind):
        return f"map<{_type_text(kind.key_type)}, {_type_text(kind.item_type)}>"
    if types.is_fixed_size_list(kind):
        return f"fixed_size_list<{_type_text(kind.value_type)}, {kind.list_size}>"
    if (
        types.is_list(kind)
        or types.is_large_list(kind)
        or types.is_list_view(kind)
        or types.is_large_list_view(kind)
    ):
        return f"list<{_type_text(kind.value_type)}>"
    if types.is_struct(kind):
        fields = ", ".join(
            f"{json.dumps(field.name)}: {_type_text(field.type)}" for field in kind.fields
        )
        return f"struct<{fields}>"
    return str(kind)


def _non_default_range_index(table: pa.Table) -> list[dict[str, object]]:
    """The pandas ``RangeIndex`` stored in the table's metadata, unless it is the default."""
    raw = (table.schema.metadata or {}).get(b"pandas")
    if raw is None:
        return []
    entries = json.loads(raw).get("index_columns", [])
    ranges = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kind") != "range":
            continue
        fields = {key: entry.get(key) for key in ("name", "start", "stop", "step")}
        default = {"name": None, "start": 0, "stop": table.num_rows, "step": 1}
        if fields != default:
            ranges.append(fields)
    return ranges


def _canonical_json(value: object, default: Callable[[Any], object] | None = None) -> bytes:
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default
    )
    return text.encode("utf-8")
