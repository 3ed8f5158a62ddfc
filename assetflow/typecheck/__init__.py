"""Check an asset's value against its annotation before it is written, and convert inputs.

The return annotation is the asset's contract. `check_output(value,
annotation, asset=..., partition=...)` raises `TypeCheckError` when the value
does not match; it runs before anything is written. `check_annotation` and
`conversion_problem` find, when the project loads, what could never work.
Importing this package loads neither pandas, pyarrow, numpy nor pydantic.

Annotations
-----------

==============================  ==================================================
Annotation                      Accepted value
==============================  ==================================================
no annotation, ``Any``,         anything (not checked); an annotation left as text
``object``, a ``TypeVar``       because it could not be resolved is not checked
                                either (logged at debug level)
``pd.DataFrame``, ``pa.Table``  an instance (a DataFrame is not a Table)
``Annotated[T, Schema(M)]``     T is checked, then the table against M (below)
a pydantic model ``M``          an ``M`` instance; a dict is not converted on output
``list[M]``, ``list[int]``      a list whose every item is of the item type, one
                                level deep (``list[list[int]]``: items are lists)
``dict``, ``dict[str, X]``      a dict; keys and values checked one level deep
``tuple[X, Y]``, ``set[X]``     the container, its items one level deep
``str``, ``bytes``              an instance
``int``                         an int or numpy integer, never a bool
``float``                       a float, an int or a numpy number, never a bool
``bool``                        a bool or numpy bool
``None``                        None
``Optional[X]``, ``X | Y``      a value any member accepts
``Literal[...]``                one of the values (``1`` is not ``True``)
any other class                 ``isinstance``; other forms are not checked
==============================  ==================================================

Schema columns
--------------

A `Schema(Model)` declares a table's columns. Every field is a required
column, named by its alias when it has one (a default does not make a column
optional: stored data has no defaults); extra columns are allowed. The checks
are vectorised, by dtype and by pandas/Arrow compute: no Python loop over rows.

=========================  =========================================  ========================
Field type                 pandas dtypes                              Arrow types
=========================  =========================================  ========================
``int``                    int*/uint* (numpy), Int*/UInt* (nullable)  int*, uint*
``float``                  float*, Float*, and every integer dtype    float*, int*, uint*
``str``                    ``str`` (pandas 3's default),              string, large_string,
                           ``string[python|pyarrow]``, object         string_view
                           holding only str, category of str
``bool``                   bool, boolean                              bool
``datetime``               datetime64 naive or tz-aware, object of    timestamp (tz or not)
                           datetimes
``AwareDatetime``          datetime64 with a time zone                timestamp with tz
``NaiveDatetime``          datetime64 without a time zone             timestamp without tz
``date``                   object of ``datetime.date``; datetime64    date32, date64;
                           without tz, every value at midnight        timestamp as for pandas
``time``                   object of ``datetime.time``                time32, time64
``timedelta``              timedelta64, object of timedelta           duration
``Decimal``                object of Decimal                          decimal128, decimal256
``bytes``                  object of bytes                            binary, large_binary,
                                                                      fixed_size_binary
``Literal``, ``Enum``      as their values' type (str, int or bool),  as for pandas
                           and every value in the set
``Any``                    any column, nulls allowed
``X | None``               as X, nulls allowed
``X | Y``                  a column that X or Y accepts
=========================  =========================================  ========================

- A pandas ``ArrowDtype`` column follows its Arrow type; a categorical
  column follows its categories' dtype; an Arrow dictionary column its value
  type. An object column's values are inferred (``infer_dtype``, nulls
  skipped), the only check that scans values to find a column's type.
- A column whose every value is null fits any field type; then only the
  null rule applies.
- Nulls: in pandas, everything ``isna`` calls null (None, NaN, NaT, NA), so
  NaN in a float or str column is null, as it becomes null in Parquet. In an
  Arrow Table only Arrow nulls are null; a float NaN is a value.
- A field that is not Optional (and not ``Any``) allows no null.
- Any other field type (lists, dicts, nested models, UUIDs, ...) has no
  column type: `check_annotation` reports it at load time (annotate the field
  ``Any`` to leave the column unchecked), and `check_output` checks only that
  the column is there.
- Field constraints (``Field(ge=0)``, validators) are checked only by row
  validation: ``Schema(M, validate_rows="sample")`` validates ``sample``
  (1000) rows drawn with a fixed seed, ``"all"`` every row, with pydantic.

Inputs
------

`convert_input` hands an upstream value to a parameter as its annotation asks,
and `conversion_problem` (or `can_convert`) says at load time when it cannot:
a DataFrame and a Table convert into each other; a dict becomes a model and a
list of dicts ``list[Model]`` (validated); a model becomes a dict for a
``dict`` parameter; an int is a float. Nothing else is converted, and a table
is never converted to or from anything but a table. Schemas are not compared
between assets: a value was checked against its producer's annotation.
"""

from assetflow.typecheck.convert import can_convert as can_convert
from assetflow.typecheck.convert import conversion_problem as conversion_problem
from assetflow.typecheck.convert import convert_input as convert_input
from assetflow.typecheck.error import TypeCheckError as TypeCheckError
from assetflow.typecheck.loadtime import check_annotation as check_annotation
from assetflow.typecheck.schema import Schema as Schema
from assetflow.typecheck.values import check_output as check_output
from assetflow.typecheck.values import find_mismatch as find_mismatch

__all__ = [
    "Schema",
    "TypeCheckError",
    "can_convert",
    "check_annotation",
    "check_output",
    "conversion_problem",
    "convert_input",
    "find_mismatch",
]
