"""Stream fields that take lists also take one value, as ``--cfg-options stream.domains=fog`` gives it."""
from __future__ import annotations

import pytest

from visadapt.registry import ConfigError
from visadapt.tta.stream import StreamSpec


def test_a_single_domain_is_not_split_into_letters():
    assert StreamSpec(domains="fog").domains == ["fog"]


def test_a_bare_severity_is_a_one_element_list():
    assert StreamSpec(severities=3).severities == [3]


@pytest.mark.parametrize(
    "spec, match",
    [
        (dict(severities=7), r"'severities' must be a non-empty list of ints in 1..5, got \[7\]"),
        (dict(severities=["high"]), r"'severities' must be ints in 1..5, got \['high'\]"),
        (dict(severities=2.5), r"'severities' must be a list or a single value, got 2.5"),
        (dict(domains={"fog": 1}), r"'domains' must be a list or a single value"),
    ],
)
def test_bad_values_name_the_key(spec, match):
    with pytest.raises(ConfigError, match=match):
        StreamSpec(**spec)
