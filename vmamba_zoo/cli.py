"""What the command-line tools (``tools/*.py``) check before any work starts: a bad argument costs
one line on stderr and exit status 2, never a traceback or a run whose results are then lost."""

from __future__ import annotations

import os
import sys
import tempfile

EXIT_BAD_ARGUMENT = 2


class ArgumentError(ValueError):
    """A command-line argument that cannot work, found before any work starts."""


def fail(error: Exception | str) -> int:
    """Print ``error: <message>`` on stderr; returns the exit status for a bad argument."""
    print(f"error: {error}", file=sys.stderr)
    return EXIT_BAD_ARGUMENT


def check_input_file(path: str, what: str) -> None:
    """``path`` is a readable file, or :class:`ArgumentError` naming ``what`` and the path."""
    if not os.path.exists(path):
        raise ArgumentError(f"{what} {path} does not exist")
    if not os.path.isfile(path):
        raise ArgumentError(f"{what} {path} is not a file")
    if not os.access(path, os.R_OK):
        raise ArgumentError(f"{what} {path} is not readable")


def check_output_file(path: str, what: str) -> None:
    """``path`` can be written, or :class:`ArgumentError`. Tried, not guessed from permission bits:
    the file is opened for appending (and removed again when it did not exist before)."""
    if os.path.isdir(path):
        raise ArgumentError(f"{what} {path} is a folder, not a file")
    existed = os.path.exists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        raise ArgumentError(f"{what} {path} cannot be written: {exc.strerror}") from None
    if not existed:
        os.remove(path)


def check_output_dir(path: str, what: str) -> None:
    """Files can be created in the folder ``path`` (or, where it does not exist yet, in its nearest
    existing parent, so that it can be made), or :class:`ArgumentError`. Nothing is left behind."""
    folder = os.path.abspath(path)
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise ArgumentError(f"{what} {path}: {folder} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ArgumentError(f"{what} {path} cannot be written: {exc.strerror}") from None
