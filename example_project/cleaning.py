"""Small, reusable cleaning steps for the order records the shop's API returns."""

import pandas as pd


def normalise_emails(emails: pd.Series) -> pd.Series:
    """Emails as the shop compares them: without surrounding whitespace, in lower case."""
    return emails.str.strip().str.lower()


def parse_amounts(amounts: pd.Series) -> pd.Series:
    """Amounts as floats; strings such as "12.50" are parsed, anything unparsable becomes NaN."""
    return pd.to_numeric(amounts, errors="coerce")


def parse_timestamps(timestamps: pd.Series) -> pd.Series:
    """ISO 8601 timestamps with any offset, in UTC; anything unparsable becomes NaT."""
    return pd.to_datetime(timestamps, format="ISO8601", utc=True, errors="coerce")
