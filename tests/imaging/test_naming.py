"""Input expansion and output naming."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixup.errors import ImageWriteError
from pixup.imaging.naming import (
    DEFAULT_TEMPLATE,
    InputItem,
    collect_inputs,
    format_scale,
    output_name,
    output_path_for,
)


def touch(*paths: Path) -> None:
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


@pytest.mark.parametrize(
    ("scale", "text"), [(4, "4"), (4.0, "4"), (1.5, "1.5"), (2.25, "2.25"), (2 / 3, "0.667")]
)
def test_format_scale(scale: float, text: str) -> None:
    assert format_scale(scale) == text


def test_default_template_and_fields() -> None:
    src = Path("/photos/IMG_0001.JPG")
    assert output_name(src, DEFAULT_TEMPLATE, 4, "png") == "IMG_0001_pixup_4x.png"
    assert output_name(src, DEFAULT_TEMPLATE, 1.5, "tiff") == "IMG_0001_pixup_1.5x.tiff"
    assert (
        output_name(src, "{model}-{name}.{fmt}.{ext}", 2, "jpg", "Real/ESRGAN: x4")
        == "Real-ESRGAN- x4-IMG_0001.jpg.jpg"
    )


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{name}_{size}.{ext}", "unknown field {size}"),
        ("{name:>10}.{ext}", "no format specs"),
        ("{name!r}.{ext}", "no format specs"),
        ("out/{name}.{ext}", "must be a file name"),
        ("{name", "bad output name template"),
    ],
)
def test_bad_templates(template: str, why: str) -> None:
    with pytest.raises(ImageWriteError, match="bad output name template") as info:
        output_name(Path("a.png"), template, 2, "png")
    assert why in str(info.value)


def test_collect_folder_flat_natural_order_images_only(tmp_path: Path) -> None:
    touch(tmp_path / "img10.png", tmp_path / "img2.JPG", tmp_path / "img1.webp", tmp_path / "notes.txt")
    touch(tmp_path / ".hidden.png", tmp_path / ".a.png.1234.pixup-tmp", tmp_path / "sub" / "deep.png")
    items = collect_inputs([tmp_path], recursive=False)
    assert [i.relative for i in items] == [Path("img1.webp"), Path("img2.JPG"), Path("img10.png")]
    assert all(i.source == tmp_path / i.relative for i in items)


def test_collect_recursive_keeps_tree_and_skips_excluded(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    touch(src / "a.png", src / "2021" / "b.tif", src / "2021" / "may" / "c.jpeg", src / ".cache" / "d.png")
    touch(src / "out" / "a_pixup_4x.png")
    items = collect_inputs([src], recursive=True, exclude=[src / "out"])
    assert [i.relative for i in items] == [Path("2021/b.tif"), Path("2021/may/c.jpeg"), Path("a.png")]


def test_files_named_directly_are_kept_even_if_odd_and_duplicates_dropped(tmp_path: Path) -> None:
    touch(tmp_path / "a.png", tmp_path / "weird.dat")
    items = collect_inputs(
        [tmp_path / "weird.dat", tmp_path / "missing.png", tmp_path / "a.png", tmp_path], recursive=False
    )
    assert items == [
        InputItem(tmp_path / "weird.dat", Path("weird.dat")),
        InputItem(tmp_path / "missing.png", Path("missing.png")),
        InputItem(tmp_path / "a.png", Path("a.png")),
    ]


def test_output_beside_source_or_under_out_dir_with_tree(tmp_path: Path) -> None:
    item = InputItem(tmp_path / "photos" / "2021" / "b.tif", Path("2021/b.tif"))
    assert (
        output_path_for(item, None, DEFAULT_TEMPLATE, 4, "png")
        == tmp_path / "photos" / "2021" / "b_pixup_4x.png"
    )
    out = tmp_path / "out"
    assert output_path_for(item, out, DEFAULT_TEMPLATE, 2, "webp") == out / "2021" / "b_pixup_2x.webp"


def test_output_may_not_replace_its_input(tmp_path: Path) -> None:
    touch(tmp_path / "a.png")
    item = InputItem(tmp_path / "a.png", Path("a.png"))
    with pytest.raises(ImageWriteError, match="the output would replace its own input"):
        output_path_for(item, None, "{name}.{ext}", 4, "png")


def test_outputs_of_one_job_resolve_clashes(tmp_path: Path) -> None:
    items = [
        InputItem(tmp_path / "a.png", Path("a.png")),
        InputItem(tmp_path / "a.jpg", Path("a.jpg")),
        InputItem(tmp_path / "b.png", Path("b.png")),
        InputItem(tmp_path / "a.JPG", Path("a.JPG")),
    ]
    outputs: list[Path] = []  # as the job runner does: each output is reserved in input order
    for item in items:
        outputs.append(output_path_for(item, tmp_path / "out", DEFAULT_TEMPLATE, 4, "png", taken=outputs))
    assert outputs == [
        tmp_path / "out" / "a_pixup_4x.png",
        tmp_path / "out" / "a_jpg_pixup_4x.png",
        tmp_path / "out" / "b_pixup_4x.png",
        tmp_path / "out" / "a_jpg_2_pixup_4x.png",
    ]


def test_output_path_for_only_renames_a_taken_name(tmp_path: Path) -> None:
    item = InputItem(tmp_path / "a.jpg", Path("a.jpg"))
    plain = tmp_path / "a_pixup_2x.webp"
    assert output_path_for(item, None, DEFAULT_TEMPLATE, 2, "webp") == plain
    other = {tmp_path / "other.webp"}
    assert output_path_for(item, None, DEFAULT_TEMPLATE, 2, "webp", taken=other) == plain
    # The extension joins the {name} field, wherever the template puts it.
    renamed = output_path_for(item, None, "up-{name}.{ext}", 2, "webp", taken={tmp_path / "up-a.webp"})
    assert renamed == tmp_path / "up-a_jpg.webp"
