"""What the command-line tools share: errors as one line on stderr, exit code 1, no traceback.

Light on purpose (mmengine's config only: no torch, no Lightning): a tool imports this first, checks its arguments
and config, and imports the heavy parts only when it has work to do, so a mistake is reported in a second, not after
6-40 s of imports.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from mmengine.config import DictAction

from visadapt.registry import ConfigError

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


class ArgumentParser(argparse.ArgumentParser):
    """argparse with its usage errors as one ``error:`` line (and exit code 1) like every other bad input."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(1)


class ConfigOptions(DictAction):
    """mmengine's ``--cfg-options key=value ...`` action; an item without ``=`` is a usage error, not a traceback."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        bad = [v for v in values if "=" not in v]
        if bad:
            parser.error(f"{option_string}: expected key=value, got {' '.join(bad)}")
        super().__call__(parser, namespace, values, option_string)


def csv_list(text: str | None, kind: type = str) -> list | None:
    """A command line's comma-separated list (None when the option was not given)."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    try:
        return [kind(t) for t in items]
    except ValueError as err:
        raise ConfigError(f"cannot read {text!r} as a list of {kind.__name__}: {err}") from err


def pick(requested: list[str] | None, valid: list[str], kind: str) -> list[str]:
    """The requested names (all of ``valid`` if None), each checked against ``valid``, duplicates dropped."""
    if requested is None:
        return list(valid)
    unknown = [r for r in requested if r not in valid]
    if unknown:
        raise ConfigError(f"unknown {kind}(s) {', '.join(unknown)}; valid {kind}s: {', '.join(valid)}")
    if not requested:
        raise ConfigError(f"no {kind} selected; valid {kind}s: {', '.join(valid)}")
    return list(dict.fromkeys(requested))
