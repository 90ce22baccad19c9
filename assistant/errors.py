"""Errors a user can cause and fix. Each carries a one-line message; faces print it, no traceback."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: the message is meant for the user, on one line."""

    exit_code = 1


class UsageError(AssistantError):
    """The question or the command was malformed (CLI exit code 2)."""

    exit_code = 2


class NotAllowedError(UsageError):
    """The user asked for something only its owner or an admin may do."""


class ConfigError(UsageError):
    """A setting is unknown or invalid."""


class CorpusError(AssistantError):
    """The corpus folder is missing, empty, or holds nothing readable."""

    exit_code = 2


class IndexCorruptError(AssistantError):
    """An index on disk cannot be trusted (truncated, foreign, or built by another model)."""


class ModelUnavailableError(AssistantError):
    """No embedding model could be loaded, not even the offline stand-in."""


class IndexWriteError(AssistantError):
    """The index folder cannot be written (permissions, disk full, not a folder)."""
