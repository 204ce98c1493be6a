"""DataFrames in and out of the case store: pseudonymise, write Parquet, read, stack.

Parquet keeps pandas' dtypes (tz-aware timestamps, nullable integers,
categories) through its schema metadata; stacking frames from many cases must
not lose them either, so categories are unioned before ``pd.concat`` (which
would otherwise fall back to plain strings).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import pandas as pd
from pandas.api.types import is_string_dtype

from zvkdiag._errors import CaseStoreError
from zvkdiag.cases.atomic import atomic_writer
from zvkdiag.cases.pseudonym import DEFAULT_COLUMN_KINDS, Kind, Pseudonymiser

__all__ = ["pseudonymise_frame", "read_parquet", "stack_frames", "write_parquet"]


def pseudonymise_frame(
    pseudo: Pseudonymiser, df: pd.DataFrame, kinds: Mapping[str, Kind | str] | None = None
) -> pd.DataFrame:
    """A copy of ``df`` whose string columns carry tokens instead of identifiers.

    Declared user and host columns are learned first, so the free-text pass
    over the other columns of the same table already knows those names.
    """
    declared = _column_kinds(df, kinds or {})
    for col, kind in declared.items():
        if kind in (Kind.USER, Kind.HOST) and _is_text(df[col]):
            pseudo.learn(kind, df[col].dropna().unique())
    out = df.copy()
    for col in out.columns:
        if _is_text(out[col]):
            out[col] = _map_series(pseudo, out[col], declared.get(str(col), Kind.TEXT))
    return out


def _column_kinds(df: pd.DataFrame, explicit: Mapping[str, Kind | str]) -> dict[str, Kind]:
    unknown = sorted(set(explicit) - {str(c) for c in df.columns})
    if unknown:
        raise CaseStoreError(f"Column kinds given for columns the table does not have: {unknown}")
    try:
        given = {col: Kind(kind) for col, kind in explicit.items()}
    except ValueError as exc:
        raise CaseStoreError(
            f"Unknown column kind: {exc}. Use one of {[k.value for k in Kind]}."
        ) from exc
    defaults = {str(c): DEFAULT_COLUMN_KINDS.get(str(c).lower(), Kind.TEXT) for c in df.columns}
    return {**defaults, **given}


def _is_text(series: pd.Series) -> bool:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return is_string_dtype(series.cat.categories.dtype) or series.cat.categories.dtype == object
    return series.dtype == object or is_string_dtype(series.dtype)


def _map_series(pseudo: Pseudonymiser, series: pd.Series, kind: Kind) -> pd.Series:
    if kind is Kind.KEEP:
        return series
    if isinstance(series.dtype, pd.CategoricalDtype):
        mapped = series.astype(object).map(lambda v: _any(pseudo, v, kind))
        return mapped.astype("category")
    try:
        uniques = series.dropna().unique()
        table = {v: _any(pseudo, v, kind) for v in uniques}
        mapped = series.map(table)
    except TypeError:  # unhashable elements (lists, dicts): one by one
        mapped = series.map(lambda v: _any(pseudo, v, kind))
    return mapped.astype(series.dtype) if series.dtype != object else mapped


def _any(pseudo: Pseudonymiser, value: object, kind: Kind) -> object:
    if isinstance(value, str):
        return pseudo.value(value, kind)
    if isinstance(value, list | tuple | dict):
        return pseudo.json(value)
    return value


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    """Write atomically; anything pyarrow refuses becomes a ``CaseStoreError``."""
    try:
        with atomic_writer(path) as fh:
            df.to_parquet(fh, engine="pyarrow", index=False)
    except (ValueError, TypeError, ImportError) as exc:
        raise CaseStoreError(f"The table cannot be stored as Parquet: {exc}") from exc
    except Exception as exc:  # pyarrow's own errors do not share a base we can import typed
        if type(exc).__module__.startswith("pyarrow"):
            raise CaseStoreError(f"The table cannot be stored as Parquet: {exc}") from exc
        raise


def read_parquet(path: Path) -> pd.DataFrame:
    """Read one table file, with a clear error if it is damaged."""
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise CaseStoreError(f"The table file {path} cannot be read: {exc}") from exc


def stack_frames(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat`` that keeps categories (unioned) and tolerates missing columns."""
    if not frames:
        return pd.DataFrame()
    frames = [f for f in frames if len(f.columns)] or list(frames[:1])
    for col in _categorical_columns(frames):
        cats = _union_values([f[col] for f in frames if col in f])
        frames = [_with_categories(f, col, cats) for f in frames]
    return pd.concat(frames, ignore_index=True, sort=False)


def _categorical_columns(frames: Sequence[pd.DataFrame]) -> list[Hashable]:
    seen: dict[Hashable, None] = {}
    for frame in frames:
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.CategoricalDtype):
                seen[col] = None
    return list(seen)


def _union_values(columns: Sequence[pd.Series]) -> pd.Index:
    """Every category or value seen, in first-seen order: nothing may turn into NaN."""
    parts = [
        c.cat.categories
        if isinstance(c.dtype, pd.CategoricalDtype)
        else pd.Index(c.dropna().unique())
        for c in columns
    ]
    merged: pd.Index = pd.Index([]).append(parts)
    return merged.drop_duplicates()


def _with_categories(frame: pd.DataFrame, col: Hashable, cats: pd.Index) -> pd.DataFrame:
    out = frame.copy()
    if col in out:
        out[col] = pd.Categorical(out[col].astype(object), categories=cats)
    else:
        out[col] = pd.Categorical([None] * len(out), categories=cats)
    return out
