"""Check a DataFrame or an Arrow Table against a Schema: columns, dtypes, nulls, values, rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from assetflow.typecheck.annotations import describe, plural, quote_names, short_repr
from assetflow.typecheck.columns import (
    DUPLICATE_COLUMN,
    FLOAT,
    INT,
    STR,
    ColumnRule,
    rules_for_model,
)
from assetflow.typecheck.error import MAX_ROWS_SHOWN, Mismatch
from assetflow.typecheck.rows import validate_rows
from assetflow.typecheck.schema import Schema
from assetflow.typecheck.tables import NO_OFFENDERS, Offenders, TableColumns, columns_of

#: Kinds of column problems, in the order messages list them.
MISSING_COLUMNS = "missing"
WRONG_DTYPE = "dtype"
NULLS = "nulls"
OUTSIDE_VALUES = "values"
TIME_OF_DAY = "time of day"

#: Missing columns a message lists at most; more end in "...".
MAX_COLUMNS_LISTED = 10


@dataclass(frozen=True, slots=True)
class ColumnProblem:
    """One way a table's column breaks its field's rule."""

    kind: str
    column: str
    #: what the column does ("has 3 nulls")
    issue: str
    #: the rule it breaks ("Record.amount is not Optional")
    requirement: str
    offenders: Offenders = NO_OFFENDERS
    rule: ColumnRule | None = None


def check_schema(value: Any, schema: Schema, annotation: Any) -> Mismatch | None:
    """Check a table's columns against a Schema, then (if asked) its rows with pydantic.

    Args:
        value: A DataFrame or an Arrow Table (any other value passes: the type
            check before this one has already failed it).
        schema: The Schema marker.
        annotation: The whole annotation, for messages.

    Returns:
        What is wrong, or None.
    """
    data = columns_of(value)
    if data is None:
        return None
    rules, _ = rules_for_model(schema.model)
    problems = column_problems(data, rules, schema.model.__name__)
    if problems:
        return _mismatch(data, schema, annotation, rules, problems)
    if schema.validate_rows != "none":
        return validate_rows(data, schema, rules, annotation)
    return None


def column_problems(
    data: TableColumns, rules: tuple[ColumnRule, ...], model_name: str
) -> list[ColumnProblem]:
    """Every column problem of a table: missing columns, then per column dtype, nulls, values."""
    names = set(data.names())
    missing = [rule for rule in rules if rule.column not in names]
    problems = []
    if missing:
        problems.append(_missing_problem(missing, sorted(map(str, names)), model_name))
    for rule in rules:
        if rule.column in names:
            problems.extend(_rule_problems(data, rule, model_name))
    return problems


def _missing_problem(
    missing: list[ColumnRule], present: list[str], model_name: str
) -> ColumnProblem:
    columns = [rule.column for rule in missing]
    listed = present[:MAX_COLUMNS_LISTED]
    has = (
        quote_names(listed) + (", ..." if len(present) > len(listed) else "") if listed else "none"
    )
    return ColumnProblem(
        MISSING_COLUMNS,
        columns[0],
        issue=f"lacks {'the column' if len(columns) == 1 else 'the columns'} "
        f"{quote_names(columns)} that {model_name} requires (its columns: {has})",
        requirement="",
    )


def _rule_problems(data: TableColumns, rule: ColumnRule, model_name: str) -> list[ColumnProblem]:
    field = f"{model_name}.{rule.field}"
    kind, dtype_text = data.column_kind(rule.column)
    if kind == DUPLICATE_COLUMN:
        return [
            ColumnProblem(
                WRONG_DTYPE,
                rule.column,
                f"appears as {dtype_text}",
                f"{field} needs one",
                rule=rule,
            )
        ]
    if not rule.accepts(kind):
        issue = f"has dtype {dtype_text}"
        requirement = f"{field} is {rule.type_text}, which needs {rule.wanted()}"
        return [ColumnProblem(WRONG_DTYPE, rule.column, issue, requirement, rule=rule)]
    problems = []
    if not rule.nullable:
        nulls = data.nulls(rule.column)
        if nulls.count:
            issue = f"has {plural(nulls.count, 'null')}"
            problems.append(
                ColumnProblem(NULLS, rule.column, issue, f"{field} is not Optional", nulls, rule)
            )
    if rule.needs_midnight(kind):
        late = data.not_at_midnight(rule.column)
        if late.count:
            issue = f"has {plural(late.count, 'datetime')} with a time of day"
            requirement = f"{field} is {rule.type_text}"
            problems.append(ColumnProblem(TIME_OF_DAY, rule.column, issue, requirement, late, rule))
    if rule.allowed is not None:
        outside = data.outside(rule.column, rule.allowed)
        if outside.count:
            examples = _examples(data, rule.column, outside)
            issue = f"has {plural(outside.count, 'value')} outside the allowed set ({examples})"
            requirement = f"{field} is {rule.type_text}"
            problems.append(
                ColumnProblem(OUTSIDE_VALUES, rule.column, issue, requirement, outside, rule)
            )
    return problems


def _examples(data: TableColumns, column: str, offenders: Offenders) -> str:
    values = [row[column] for row in data.records(offenders.positions, [column])]
    distinct = list(dict.fromkeys(values))
    return "e.g. " + ", ".join(short_repr(value) for value in distinct)


def _mismatch(
    data: TableColumns,
    schema: Schema,
    annotation: Any,
    rules: tuple[ColumnRule, ...],
    problems: list[ColumnProblem],
) -> Mismatch:
    model_name = schema.model.__name__
    kind = data.kind_name
    if len(problems) == 1:
        problem = problems[0]
        if problem.kind == MISSING_COLUMNS:
            detail = f"returned a {kind} that {problem.issue}"
        else:
            detail = (
                f"returned a {kind} whose column '{problem.column}' {problem.issue}, "
                f"but {problem.requirement}"
            )
    else:
        clauses = [_clause(problem) for problem in problems]
        detail = (
            f"returned a {kind} that does not match {model_name} in "
            f"{len(problems)} ways: " + "; ".join(clauses)
        )
    positions = sorted({p for problem in problems for p in problem.offenders.positions})
    positions = positions[:MAX_ROWS_SHOWN]
    counts = Counter(data.names())
    columns = [rule.column for rule in rules if counts[rule.column] == 1]
    rows = data.records(positions, columns) if positions else []
    return Mismatch(
        expected=describe(annotation),
        found="; ".join(_clause(problem) for problem in problems),
        detail=detail,
        hint=_hint(problems, model_name),
        rows=tuple(rows),
        row_labels=tuple(data.row_label(position) for position in positions),
    )


def _clause(problem: ColumnProblem) -> str:
    if problem.kind == MISSING_COLUMNS:
        return problem.issue.replace("lacks", "it lacks", 1)
    return f"column '{problem.column}' {problem.issue}, but {problem.requirement}"


def _hint(problems: list[ColumnProblem], model_name: str) -> str:
    fixes: list[str] = []
    for problem in problems:
        fix = _fix(problem, problems, model_name)
        if fix not in fixes:
            fixes.append(fix)
    return (
        "The Schema is the asset's contract and is checked before anything is written, so "
        "nothing was written. To fix this, " + "; ".join(fixes) + ". The dtypes each field "
        "type accepts are listed in docs/types-and-checks.md."
    )


def _fix(problem: ColumnProblem, problems: list[ColumnProblem], model_name: str) -> str:
    rule = problem.rule
    column = problem.column
    if problem.kind == MISSING_COLUMNS:
        return "add the missing columns, or rename columns to the model's field names (or aliases)"
    if problem.kind == NULLS:
        null_rules = [p.rule for p in problems if p.kind == NULLS and p.rule is not None]
        columns = ", ".join(repr(r.column) for r in null_rules)
        fields = " or ".join(f"{model_name}.{r.field}" for r in null_rules)
        example = null_rules[0]
        return (
            f"drop or fill the nulls (df.dropna(subset=[{columns}]) or df.fillna(...)), "
            f"or make {fields} Optional ({example.field}: {example.type_text} | None)"
        )
    if problem.kind == OUTSIDE_VALUES:
        return "filter or map the values outside the set, or allow them in the field's type"
    if problem.kind == TIME_OF_DAY:
        return f"drop the time of day (df[{column!r}] = df[{column!r}].dt.normalize())"
    if rule is not None and rule.kinds == {INT} and "float" in problem.issue:
        return (
            f"cast the column to a nullable integer (df[{column!r}] = "
            f"df[{column!r}].astype('Int64')): pandas turns an int column with missing "
            "values into float64"
        )
    if rule is not None and rule.kinds <= {STR, INT, FLOAT}:
        target = {STR: "str", INT: "int64", FLOAT: "float64"}[sorted(rule.kinds)[0]]
        return f"cast the column (df[{column!r}] = df[{column!r}].astype({target!r}))"
    return "cast the column to a dtype the field's type accepts, or change the field's type"
