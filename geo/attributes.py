"""Check and coerce a site's attributes against its layer's attribute schema (pure)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from typing import Any

from geo.messages import Message, msg
from geo.model import AttributeDef, InvalidInput, LayerDef

_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}
MAX_COMMENT = 2000  # the "why" of a version: a sentence or a paragraph, not a document


def clean_comment(value: Any) -> str | None:
    """The comment stored on a version (planning, imports, reviews): None when absent or blank."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_COMMENT:
        raise InvalidInput(msg("comment_too_long", "comment: text of at most {limit} characters",
                               limit=MAX_COMMENT), field="comment")
    return value.strip() or None


def _coerce(attr: AttributeDef, value: Any) -> Any:
    """The value in the attribute's type, or ValueError(Message) saying why it cannot be (its
    ``{attribute}`` filled in by the caller)."""
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
        raise ValueError(msg("attribute_not_boolean", "{attribute}: {value} is not true or false",
                             value=repr(value)))
    if kind in ("integer", "number"):
        if isinstance(value, bool):
            raise ValueError(msg("attribute_not_number", "{attribute}: {value} is not a number",
                                 value=repr(value)))
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(msg("attribute_not_number", "{attribute}: {value} is not a number",
                                 value=repr(value))) from None
        if not math.isfinite(number):
            raise ValueError(msg("attribute_not_finite", "{attribute}: {value} is not a finite number",
                                 value=repr(value)))
        if kind == "integer":
            if not number.is_integer():
                raise ValueError(msg("attribute_not_whole", "{attribute}: {value} is not a whole number",
                                     value=repr(value)))
            number = int(number)
        if attr.min is not None and number < attr.min:
            raise ValueError(msg("attribute_below_minimum",
                                 "{attribute}: {value} is below the minimum {limit}",
                                 value=number, limit=format(attr.min, "g")))
        if attr.max is not None and number > attr.max:
            raise ValueError(msg("attribute_above_maximum",
                                 "{attribute}: {value} is above the maximum {limit}",
                                 value=number, limit=format(attr.max, "g")))
        return number
    if kind == "date":
        try:
            return date.fromisoformat(str(value)[:10]).isoformat()
        except ValueError:
            raise ValueError(msg("attribute_not_date", "{attribute}: {value} is not a date (YYYY-MM-DD)",
                                 value=repr(value))) from None
    if kind == "list":
        if isinstance(value, str):
            return [part.strip() for part in value.replace("；", ";").split(";") if part.strip()]
        if isinstance(value, list | tuple):
            return [str(v) for v in value]
        raise ValueError(msg("attribute_not_list", "{attribute}: {value} is not a list", value=repr(value)))
    raise ValueError(msg("attribute_unknown_type", "{attribute}: unknown attribute type {kind}",
                         kind=repr(kind)))


def check_attributes(layer: LayerDef, properties: dict[str, Any]) -> tuple[dict[str, Any], list[Message]]:
    """Attributes of ``layer`` found in ``properties``, coerced; and one message per problem, naming the
    attribute (``{attribute}``).

    Properties the layer does not declare are ignored (files often carry extra
    columns); declared ones must convert to their type and respect values/bounds.
    """
    clean: dict[str, Any] = {}
    problems: list[Message] = []
    for attr in layer.attributes:
        value = properties.get(attr.name)
        problem = None
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if not attr.required:
                continue
            problem = msg("attribute_missing", "{attribute}: required attribute is missing")
        else:
            try:
                value = _coerce(attr, value)
            except ValueError as exc:  # _coerce says why in a Message
                problem = exc.args[0]
            else:
                if attr.values is not None and value not in attr.values:
                    problem = msg("attribute_not_allowed", "{attribute}: {value} is not one of {allowed}",
                                  value=repr(value), allowed=", ".join(attr.values))
        if problem is not None:
            problems.append(replace(problem, values={**problem.values, "attribute": attr.name}))
            continue
        clean[attr.name] = value
    return clean, problems
