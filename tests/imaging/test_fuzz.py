"""A short fuzz run in the suite (benchmarks/fuzz_imaging.py runs the same targets for longer)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings

from tests.imaging.fuzzing import check_graft, check_read, image_seeds, mutated_exif, mutated_images

SHORT = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # the same inputs on every run: CI stays reproducible
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_seeds_are_valid(tmp_path: Path) -> None:
    """Unmutated, every seed decodes: the fuzzer starts from real files of every format."""
    assert [check_read(seed, tmp_path) for seed in image_seeds()] == ["decoded"] * len(image_seeds())


@SHORT
@given(data=mutated_images())
def test_read_image_decodes_or_raises_image_read_error(tmp_path: Path, data: bytes) -> None:
    assert check_read(data, tmp_path) in ("decoded", "error")


@SHORT
@given(data=mutated_exif())
def test_graft_exif_gives_valid_exif_or_none(data: bytes) -> None:
    assert check_graft(data) in ("grafted", "dropped")
