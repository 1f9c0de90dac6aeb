"""The one helper that turns a foreign exception into one line of a pixup message."""

from __future__ import annotations

from pixup.errors import one_line


def test_one_line_takes_the_first_non_blank_line() -> None:
    assert one_line(RuntimeError("\n  first part  \nsecond\n")) == "first part"


def test_one_line_takes_the_last_where_the_cause_comes_last() -> None:
    err = ValueError("Weights only load failed.\nPlease file an issue.\n\nUnsupported global: os.system\n")
    assert one_line(err, last=True) == "Unsupported global: os.system"


def test_one_line_names_the_type_when_the_message_is_empty() -> None:
    assert one_line(KeyError()) == "KeyError"
    assert one_line(OSError(" \n ")) == "OSError"


def test_one_line_is_capped() -> None:
    assert one_line(RuntimeError("x" * 500)) == "x" * 300
    assert one_line(RuntimeError("abcdef"), limit=3) == "abc"
