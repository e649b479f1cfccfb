"""Errors raised while reading source files.

Every message names the file (as the operator knows it: the key under the source root) and, where
one exists, the line, because "bad input" is only actionable when the operator can open the file.
"""

from __future__ import annotations


class SourceFormatError(ValueError):
    """A source file is unreadable, inconsistent with its manifest, or not in the expected format."""

    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.reason = message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")
