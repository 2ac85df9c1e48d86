"""``nexus schema``."""

from __future__ import annotations

import json

from tests.cli.helpers import assert_argparse_error, help_text, nexus


def test_help_takes_no_argument() -> None:
    assert help_text("schema").startswith("usage: nexus schema [-h]\n")


def test_prints_the_json_schema() -> None:
    result = nexus("schema")
    assert result.returncode == 0, result.stderr
    assert "$defs" in json.loads(result.stdout)


def test_an_extra_argument_is_a_usage_error() -> None:
    assert_argparse_error(nexus("schema", "extra"), "nexus", "unrecognized arguments: extra")
