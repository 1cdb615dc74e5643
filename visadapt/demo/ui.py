"""Gradio glue the demo's tabs share: a runner progress report shown on Gradio's progress bar, and input errors
shown to the user as ``gr.Error`` messages instead of tracebacks."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from visadapt.demo.runs import Report


def progress_report(progress: Any) -> Report:
    """A ``launch`` report that moves ``progress`` (a ``gr.Progress``) with the step message as its text."""
    return lambda fraction, message: progress(fraction, desc=message)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Bad input (a ValueError, a missing file) becomes a ``gr.Error`` carrying the message, which names it."""
    import gradio as gr

    try:
        yield
    except (ValueError, FileNotFoundError) as err:
        raise gr.Error(str(err)) from err
