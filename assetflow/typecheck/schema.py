"""The Schema marker: a pydantic model as the column schema of a DataFrame or an Arrow Table."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Literal

from assetflow.errors import DefinitionError

if TYPE_CHECKING:
    from pydantic import BaseModel

RowValidation = Literal["none", "sample", "all"]
ROW_VALIDATIONS: tuple[RowValidation, ...] = ("none", "sample", "all")
#: Rows validated by pydantic with `validate_rows="sample"`, unless told otherwise.
DEFAULT_SAMPLE = 1000


@dataclass(frozen=True, slots=True, repr=False)
class Schema:
    """A pydantic model declaring a table's columns: `Annotated[pd.DataFrame, Schema(Record)]`.

    Every field of the model is a required column (named by the field's alias
    if it has one); extra columns are allowed. Column dtypes and nulls are
    checked vectorised, always. Row by row validation by pydantic (constraints
    such as `Field(ge=0)`, validators) is opt-in: `validate_rows="sample"`
    validates `sample` rows drawn with a fixed seed, `"all"` every row.
    """

    model: type[BaseModel]
    _: KW_ONLY
    validate_rows: RowValidation = "none"
    sample: int = DEFAULT_SAMPLE

    def __post_init__(self) -> None:
        from pydantic import BaseModel

        if not (isinstance(self.model, type) and issubclass(self.model, BaseModel)):
            raise DefinitionError(
                f"Schema({self.model!r}) needs a pydantic model class, "
                f"not {type(self.model).__name__}.",
                hint="Declare the columns as a model (class Record(BaseModel): id: int; ...) "
                "and annotate the asset Annotated[pd.DataFrame, Schema(Record)].",
            )
        if self.validate_rows not in ROW_VALIDATIONS:
            raise DefinitionError(
                f"Schema({self.model.__name__}, validate_rows={self.validate_rows!r}): "
                f"validate_rows is one of {', '.join(map(repr, ROW_VALIDATIONS))}."
            )
        if isinstance(self.sample, bool) or not isinstance(self.sample, int) or self.sample < 1:
            raise DefinitionError(
                f"Schema({self.model.__name__}, sample={self.sample!r}): "
                "sample is the number of rows to validate, a positive int."
            )

    def __repr__(self) -> str:
        settings = ""
        if self.validate_rows != "none":
            settings += f", validate_rows={self.validate_rows!r}"
        if self.sample != DEFAULT_SAMPLE:
            settings += f", sample={self.sample}"
        return f"Schema({self.model.__name__}{settings})"
