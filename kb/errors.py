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


class IndexCorrupt(IndexNotReady, ValueError):
    """An index version's files cannot be read (a crash, a full disk, a hand edit): never a bare JSONDecodeError."""


class EmbedderMismatch(KBError):
    """An index built by one embedder opened with another (HTTP 409 / CLI exit 3)."""


class IngestFailed(KBError):
    """Ingestion stopped before switching the index; the previous one stays live."""


class TrainingDataInvalid(KBError, ValueError):
    """A labelled-ticket file that cannot be trained on: the message names the file, the line and the field."""


class PayloadTooLarge(KBError):
    """An upload over the configured limit (HTTP 413)."""


class RecordNotFound(KBError):
    """A record id (or one of its revisions) that the store does not hold (HTTP 404)."""


class StaleRevision(KBError):
    """An update based on a revision that is no longer the latest: someone else saved first (HTTP 409)."""


class RecordInvalid(KBError):
    """A record that fails the schema, taxonomy or cross-record checks (HTTP 422, with field errors)."""

    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


class PreconditionRequired(KBError):
    """An update without If-Match (HTTP 428)."""


class NotAuthenticated(KBError):
    """No key, an unknown or revoked key, or an expired session (HTTP 401)."""


class Forbidden(KBError):
    """A valid key whose role does not allow this (HTTP 403)."""


class Conflict(KBError):
    """A write that contradicts the current state (HTTP 409)."""


class GuardRefused(Conflict):
    """A change that would lower the gold set's Recall@5 beyond KB_GUARD_RECALL_DROP (HTTP 409)."""


class NotFound(KBError):
    """A requested item (a generated report file) that does not exist (HTTP 404)."""


class Gone(KBError):
    """A download whose link has expired (HTTP 410): the file was removed after KB_EXPORT_TTL_HOURS."""


class EmbeddingEngineUnavailable(KBError):
    """The embedding engine asked for cannot run: its converted model is missing, stale or corrupt (HTTP 503)."""
