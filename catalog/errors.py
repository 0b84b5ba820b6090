"""Problems found in catalog files, reported all at once with file, line and field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class QueryError(ValueError):
    """A query a user asked for names something the catalog does not know (a vocabulary word, an id, an id kind);
    the message says what was expected."""


class CatalogError(Exception):
    """The catalog has problems; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.field, p.message))
        super().__init__(self._text())

    def _text(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the catalog"
        return head + ":\n" + "\n".join(f"  {p}" for p in self.problems)
