"""Domain errors.

Every error a user can cause is an ``AmplioError``: the CLI prints its message on one line and
exits with status 2, and the server answers it as a 4xx with one JSON envelope. Anything else is
a bug and surfaces as such.
"""

from __future__ import annotations


class AmplioError(Exception):
    """Base class for errors caused by input, configuration or environment, not by a bug.

    ``field`` names the input that was wrong in the Python API's terms (``"status"``,
    ``"reference_text_column"``, ``"weights"``), so each door can say where to fix it in its own
    words: the CLI names its option, the server returns the field in its error envelope. The
    message itself names no door's syntax.
    """

    status_code: int = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InputError(AmplioError):
    """The data given (file, column, text, option) cannot be used as it is."""


class NotFoundError(AmplioError):
    """A row, concept, gap or workspace that was asked for does not exist."""

    status_code = 404


class WorkspaceError(AmplioError):
    """The workspace cannot be opened or written (locked, newer schema, damaged)."""

    status_code = 409


class WorkspaceLockedError(WorkspaceError):
    """Another process holds the workspace open for writing."""


class WorkspaceWriteError(WorkspaceError):
    """A change could not be saved (disk full, file too large, folder not writable); the
    workspace still holds everything saved before it."""

    status_code = 507


class BackendError(AmplioError):
    """A model backend (encoder, LLM endpoint, decoder) failed or answered garbage."""

    status_code = 502


class MissingDependencyError(AmplioError):
    """An optional backend was asked for but its package is not installed."""

    status_code = 501
