"""What the command-line tools share: errors as one line on stderr, exit code 1, no traceback.

Light on purpose (no torch, no Lightning): a tool imports this first, checks its arguments and config, and
imports the heavy parts only when it has work to do, so a mistake is reported in a second, not after 6-40 s of
imports.
"""
from __future__ import annotations

import sys

# What bad input raises: ConfigError and AdapterLoadError are ValueErrors, a missing or unreadable file an
# OSError, a checkpoint without the tensors a model needs a KeyError, a diverged run a FloatingPointError.
USER_ERRORS = (OSError, ValueError, KeyError, FloatingPointError)


def error_line(err: BaseException) -> str:
    """The message of ``err`` as one line (a KeyError's ``str`` would wrap it in quotes). An error re-raised from a
    DataLoader worker carries the worker's traceback in its message; its last line is the original error."""
    text = str(err.args[0] if isinstance(err, KeyError) and err.args else err)
    if "Original Traceback" in text:
        text = text.strip().splitlines()[-1].split(": ", 1)[-1]
    return " ".join(text.split()) or type(err).__name__


def fail(err: BaseException) -> int:
    """Print ``error: <message>`` on stderr and return the exit code 1."""
    print(f"error: {error_line(err)}", file=sys.stderr)
    return 1
