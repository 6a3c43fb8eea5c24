"""User-facing errors: each carries one message that says what is wrong and what to do."""

from __future__ import annotations


class PipelineError(Exception):
    """A problem the user can fix; its message is the whole explanation (no traceback needed)."""


class ConfigError(PipelineError, ValueError):
    """The configuration file is missing, unreadable or invalid."""


class ConfigFileNotFoundError(ConfigError, FileNotFoundError):
    """The configuration file does not exist."""


class SourceError(PipelineError):
    """An input data file cannot be used at all (as opposed to bad rows, which are quarantined)."""


class SourceFileNotFoundError(SourceError, FileNotFoundError):
    """A configured input path or glob matches no file."""


class LakeError(PipelineError):
    """The lake is missing partitions a computation needs, or cannot be written."""


class EngineError(PipelineError):
    """The configured engine (Spark) cannot start or cannot run a computation."""
