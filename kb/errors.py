"""Typed domain errors.

The core raises these; the API maps each class to one HTTP status once, and the
CLI prints the message. Messages are Chinese because agents and knowledge
managers read them, and they name the bad value and the valid options.
"""

from __future__ import annotations


class KBError(Exception):
    """Base class: ``message`` is what a user sees."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidQuery(KBError):
    """Empty, over-long or otherwise unusable input (HTTP 422)."""


class UnknownKB(KBError):
    """A knowledge base name that is not configured or not built (HTTP 404)."""


class IndexNotReady(KBError):
    """The knowledge base has no usable index yet (HTTP 503)."""


class EmbedderMismatch(KBError):
    """An index built by one embedder opened with another (HTTP 409 / CLI exit 3)."""


class IngestFailed(KBError):
    """Ingestion stopped before switching the index; the previous one stays live."""


class PayloadTooLarge(KBError):
    """An upload over the configured limit (HTTP 413)."""


class NotFound(KBError):
    """A requested item (a generated report file) that does not exist (HTTP 404)."""
