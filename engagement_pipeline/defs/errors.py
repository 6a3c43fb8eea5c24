"""Turning the pipeline's own errors into a Dagster failure whose description is the whole message."""

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import dagster as dg

from engagement_pipeline.errors import PipelineError

F = TypeVar("F", bound=Callable[..., Any])

# Metadata key on a dg.Failure raised for a PipelineError (bad config or input).
USER_ERROR = "user_error"


@contextmanager
def user_errors() -> Iterator[None]:
    """Raise a PipelineError as dg.Failure: the UI shows its message, not a library traceback."""
    try:
        yield
    except PipelineError as exc:
        # Marked so the command line can tell an input problem (exit 2) from a failure (1).
        raise dg.Failure(
            description=str(exc), allow_retries=False, metadata={USER_ERROR: True}
        ) from None


def reports_user_errors(fn: F) -> F:
    """Decorator form of user_errors for asset functions (plain or generator)."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            with user_errors():
                yield from fn(*args, **kwargs)

        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with user_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
