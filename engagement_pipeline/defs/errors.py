"""What every asset step runs inside (`asset_step`, `step_scope`): the pipeline's own errors
become a Dagster failure whose description is the whole message, and the temporary tables
the step made on its DuckDB connection are dropped when it ends."""

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import dagster as dg

from engagement_pipeline.errors import PipelineError
from engagement_pipeline.lake import scratch_dropped

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


@contextmanager
def step_scope() -> Iterator[None]:
    """An asset step's body: user_errors, and its scratch tables dropped at the end.

    A run's steps go one after another on one thread, so they share its DuckDB connection
    (lake.connection); without the drop every step's computed rows stayed until the
    process ended (after a month at 100,000 customers: 33 million rows, 1.7 GB in memory
    and 3.7 GB spilled to disk, crowding every later step's queries).
    """
    with scratch_dropped(), user_errors():
        yield


def asset_step(fn: F) -> F:
    """Decorator form of step_scope for asset functions (plain or generator)."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            with step_scope():
                yield from fn(*args, **kwargs)

        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with step_scope():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
