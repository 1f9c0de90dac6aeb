"""Which files to read and where their outputs go: input expansion and output naming."""

from __future__ import annotations

import itertools
import os
import re
import string
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from pixup.errors import ImageWriteError
from pixup.imaging.limits import EXTENSIONS, Format

DEFAULT_TEMPLATE = "{name}_pixup_{scale}x.{ext}"
"""Output file name template; fields: name, ext, scale, model, fmt."""

IMAGE_EXTENSIONS = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".webp",
        ".tif",
        ".tiff",
        ".bmp",
        ".dib",
        ".gif",
        ".avif",
        ".heic",
        ".heif",
    }
)
"""Extensions picked up when a folder is given (case-insensitive)."""

_FIELDS = frozenset({"name", "ext", "scale", "model", "fmt"})


@dataclass(frozen=True)
class InputItem:
    """One input file and where it sits relative to what the user named."""

    source: Path
    """The file to read."""
    relative: Path
    """Its path under the folder the user gave (just the file name for a file given directly);
    outputs keep this tree under the output folder."""


def _natural_key(path: Path) -> list[object]:
    """Sort "img2" before "img10", case-insensitively."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _under(path: Path, folders: Sequence[Path]) -> bool:
    return any(path == f or f in path.parents for f in folders)


def collect_inputs(paths: list[Path], recursive: bool, *, exclude: Sequence[Path] = ()) -> list[InputItem]:
    """Expand files and folders into input items, in a stable natural order, without duplicates.

    A file named directly is always kept (reading it reports what is wrong with it, if anything);
    folders contribute their image files by extension, hidden files skipped, and with `recursive`
    their subfolders too. Folders in `exclude` (the output folder) are never entered.
    """
    excluded = [Path(e).resolve() for e in exclude]
    items: list[InputItem] = []
    seen: set[Path] = set()

    def add(source: Path, relative: Path) -> None:
        key = source.resolve()
        if key not in seen:
            seen.add(key)
            items.append(InputItem(source=source, relative=relative))

    for given in paths:
        given = Path(given)
        if not given.is_dir():
            add(given, Path(given.name))
            continue
        found: list[Path] = []
        if recursive:
            for root, dirs, files in os.walk(given):
                root_path = Path(root)
                dirs[:] = [
                    d
                    for d in dirs
                    if not d.startswith(".") and not _under((root_path / d).resolve(), excluded)
                ]
                found.extend(root_path / f for f in files if _is_image_name(f))
        else:
            found = [p for p in given.iterdir() if p.is_file() and _is_image_name(p.name)]
        for source in sorted(found, key=lambda p: _natural_key(p.relative_to(given))):
            add(source, source.relative_to(given))
    return items


def format_scale(scale: float) -> str:
    """4.0 → "4", 1.5 → "1.5", 2.333333 → "2.333"."""
    if float(scale).is_integer():
        return str(int(scale))
    return f"{scale:.3f}".rstrip("0").rstrip(".")


def check_template(template: str) -> None:
    """Raise ImageWriteError unless `template` is a usable output name template."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise ImageWriteError(f"bad output name template {template!r}: {err}", code="bad_template") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in _FIELDS:
            raise ImageWriteError(
                f"bad output name template {template!r}: unknown field {{{field}}} "
                f"(use {', '.join('{' + f + '}' for f in sorted(_FIELDS))})",
                code="bad_template",
            )
        if spec or conversion:
            raise ImageWriteError(f"bad output name template {template!r}: no format specs or conversions",
                                  code="bad_template")
    if "/" in template or "\\" in template:
        raise ImageWriteError(f"bad output name template {template!r}: it must be a file name, not a path",
                              code="bad_template")


def output_name(source: Path, template: str, scale: float, fmt: Format, model: str = "") -> str:
    """The output file name for `source` by `template`."""
    check_template(template)
    name = template.format(
        name=source.stem, ext=EXTENSIONS[fmt], scale=format_scale(scale), model=_safe(model), fmt=fmt
    )
    if name in ("", ".", "..") or name.startswith(".."):
        raise ImageWriteError(f"bad output name template {template!r}: it gives the name {name!r}",
                              code="bad_template")
    return name


def _safe(text: str) -> str:
    """A model name usable inside a file name."""
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "-", text).strip(" .") or "model"


def output_path_for(
    item: InputItem,
    out_dir: Path | None,
    template: str,
    scale: float,
    fmt: Format,
    *,
    model: str = "",
    taken: Collection[Path] = (),
) -> Path:
    """Where `item`'s output goes: beside the source when `out_dir` is None, else under `out_dir`
    at the item's relative folder. Raises ImageWriteError if that would be the source itself.

    A path in `taken` (an earlier output of the same job) is not given again: "a.png" and "a.jpg" in
    one folder would both become "a_pixup_4x.png", so the later one takes its source's extension
    into the {name} field: "a_jpg_pixup_4x.png" (then "a_jpg_2_pixup_4x.png", ...)."""
    source = item.source
    folder = source.parent if out_dir is None else Path(out_dir) / item.relative.parent
    target = folder / output_name(source, template, scale, fmt, model)
    if target in taken:  # Path equality ignores case where the OS does (Windows)
        stem = f"{source.stem}_{source.suffix.lstrip('.').lower() or 'noext'}"
        for n in itertools.count(1):
            renamed = source.with_name(f"{stem if n == 1 else f'{stem}_{n}'}{source.suffix}")
            target = folder / output_name(renamed, template, scale, fmt, model)
            if target not in taken:
                break
    if _same_file(target, source):
        raise ImageWriteError("the output would replace its own input; change the name template", path=target,
                              code="output_is_input")
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False
