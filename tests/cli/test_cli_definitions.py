"""The CLI's choices are the API schema's values: adding a format or a precision there cannot leave
`pixup upscale` behind."""

from __future__ import annotations

import argparse
from typing import get_args

from pixup.api.schema import OutputFormat, Precision
from pixup.cli import _build_parser


def _upscale_choices(option: str) -> tuple[str, ...]:
    parser = _build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    upscale = sub.choices["upscale"]
    action = next(a for a in upscale._actions if option in a.option_strings)
    return tuple(action.choices or ())


def test_format_and_precision_choices_match_the_schema() -> None:
    assert _upscale_choices("--format") == get_args(OutputFormat)
    assert _upscale_choices("--precision") == get_args(Precision)
