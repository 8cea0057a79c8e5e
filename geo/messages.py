"""Messages for people, kept apart from their language.

geo/ never translates: a domain error or a rejected feature carries a `Message`, a stable code with
an English template (the msgid of the gettext catalogues) and its values (field, feature index,
limit, a neighbour's name …). The edge (webapp/i18n.py `translate`) puts it into the reader's
language; `str()` gives the English, for logs and for tests of geo/ alone.

`msg("code", "English with {field}", field=...)` marks the template for extraction
(tools/i18n.py extracts the second argument of `msg` and of `plural_msg`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Message:
    code: str
    text: str
    values: dict[str, Any] = field(default_factory=dict)
    plural: str | None = None  # the plural template; the count is values["n"]

    def __str__(self) -> str:
        english = self.text if self.plural is None or self.values.get("n") == 1 else self.plural
        return english.format(**{k: english_value(v) for k, v in self.values.items()})


def english_value(value: Any) -> str:
    if isinstance(value, dict) and "en" in value:  # a layer definition's label
        return str(value["en"])
    return str(value)


def msg(code: str, text: str, **values: Any) -> Message:
    return Message(code, text, values)


def plural_msg(code: str, singular: str, plural: str, n: int, **values: Any) -> Message:
    return Message(code, singular, {"n": n, **values}, plural)
