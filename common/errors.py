"""Errors the user can fix, and the one way every command-line tool reports them.

`UserError` marks bad input the user can fix: an argument, a config key, a path, a file's contents,
the data. Anything else that escapes a tool is a bug and must show its traceback, so no entry
point catches broad builtins such as ValueError (a Keras shape error is a ValueError too). The
subclasses below also derive from the builtin their raise sites used before, so library callers
and tests that catch ValueError, FileNotFoundError, ... keep working. Programming errors and
broken invariants stay plain builtins.

Exit codes, the same for every entry point (common/entry_points.py; docs/cli.md, "Exit codes"):

    0  success
    1  an unexpected failure, i.e. a bug: Python's traceback, never hidden
    2  a user error: one line `<prog>: error: <message>` on stderr (argparse's usage errors
       also exit 2)
    3  verify.py only: refused, no decision (no usable face in a photo)

`entry_point(prog)` decorates a tool's `main`: it turns a UserError into that one line and exit
code 2 and lets every other exception through.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

SUCCESS = 0
BUG = 1  # what Python exits with after an uncaught exception's traceback
USER_ERROR = 2  # as argparse's usage errors
REFUSED = 3  # verify.py: no decision could be made


class UserError(Exception):
    """Bad input the user can fix; the message says what and where, on one line."""


class UserValueError(UserError, ValueError):
    """A bad value: an argument, a config entry, a file's contents, the data."""


class UserKeyError(UserError, KeyError):
    """A key a file or table should hold is missing."""

    def __str__(self) -> str:  # KeyError's own str() would quote the message
        return Exception.__str__(self)


class UserFileNotFoundError(UserError, FileNotFoundError):
    """A path the user named (or its default) does not exist."""


class UserFileExistsError(UserError, FileExistsError):
    """An output the user named exists and may not be overwritten."""


class UserNotADirectoryError(UserError, NotADirectoryError):
    """A path the user named is not the folder it should be."""


class UserImportError(UserError, ImportError):
    """An optional package that the chosen option needs is not installed."""


def require_file(path, what: str) -> Path:
    """`path` as a Path when it is a file, else a UserFileNotFoundError naming it as `what`: a file
    the user named is checked where it is opened, so a typo is one line, not an OSError."""
    path = Path(path)
    if not path.is_file():
        raise UserFileNotFoundError(f"{path}: {what} not found")
    return path


def one_line(error: BaseException) -> str:
    """The message on one line (a YAML error, for one, spans several)."""
    return " ".join(str(error).split())


def entry_point(prog: str):
    """Decorator for a tool's `main(argv=None) -> int`: a UserError becomes `<prog>: error:
    <message>` on stderr and the return value USER_ERROR; any other exception propagates with
    its traceback (exit code BUG). Give the tool's argparse parser the same `prog`, so that its
    usage errors start with the same name."""

    def decorate(main):
        @functools.wraps(main)
        def run(*args, **kwargs):
            try:
                return main(*args, **kwargs)
            except UserError as error:
                print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
                return USER_ERROR

        run.prog = prog
        return run

    return decorate
