"""Check and coerce a site's attributes against its layer's attribute schema (pure)."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from geo.model import AttributeDef, InvalidInput, LayerDef

_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}
MAX_COMMENT = 2000  # the "why" of a version: a sentence or a paragraph, not a document


def clean_comment(value: Any) -> str | None:
    """The comment stored on a version (planning, imports, reviews): None when absent or blank."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_COMMENT:
        raise InvalidInput(f"comment: text of at most {MAX_COMMENT} characters", field="comment")
    return value.strip() or None


def _coerce(attr: AttributeDef, value: Any) -> Any:
    """The value in the attribute's type, or ValueError saying why it cannot be."""
    kind = attr.type
    if kind == "string":
        return str(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):  # 0/1 columns, e.g. from pandas
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError(f"{value!r} is not true or false")
    if kind in ("integer", "number"):
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        if kind == "integer":
            if not number.is_integer():
                raise ValueError(f"{value!r} is not a whole number")
            number = int(number)
        if attr.min is not None and number < attr.min:
            raise ValueError(f"{number} is below the minimum {attr.min:g}")
        if attr.max is not None and number > attr.max:
            raise ValueError(f"{number} is above the maximum {attr.max:g}")
        return number
    if kind == "date":
        try:
            return date.fromisoformat(str(value)[:10]).isoformat()
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if kind == "list":
        if isinstance(value, str):
            return [part.strip() for part in value.replace("；", ";").split(";") if part.strip()]
        if isinstance(value, list | tuple):
            return [str(v) for v in value]
        raise ValueError(f"{value!r} is not a list")
    raise ValueError(f"unknown attribute type {kind!r}")


def clean_attributes(layer: LayerDef, properties: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Attributes of ``layer`` found in ``properties``, coerced; and one message per problem.

    Properties the layer does not declare are ignored (files often carry extra
    columns); declared ones must convert to their type and respect values/bounds.
    """
    clean: dict[str, Any] = {}
    problems: list[str] = []
    for attr in layer.attributes:
        value = properties.get(attr.name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if attr.required:
                problems.append(f"{attr.name}: required attribute is missing")
            continue
        try:
            value = _coerce(attr, value)
        except ValueError as exc:
            problems.append(f"{attr.name}: {exc}")
            continue
        if attr.values is not None and value not in attr.values:
            problems.append(f"{attr.name}: {value!r} is not one of {', '.join(attr.values)}")
            continue
        clean[attr.name] = value
    return clean, problems
