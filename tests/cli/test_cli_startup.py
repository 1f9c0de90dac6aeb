"""Start-up of `pixup upscale` (issue 8): what a run loads is what it uses.

Each check is a fresh process, since this test session has long since imported everything. The
module names guarded are the costly ones an upscale without --faces does not need: the argument
parser without pydantic, face recovery, onnx (only to convert a model that is not cached yet) and
Pillow's ~45 format plugins (loaded only when a file is none of the common formats).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.cli.conftest import RunCli, cli_env, photo

# Pillow plugins that only `Image.init()` (every plugin) loads; the common formats never need them.
_RARE_PLUGINS = ("PIL.FitsImagePlugin", "PIL.SgiImagePlugin", "PIL.XVThumbImagePlugin")


def _loaded_after(code: str, home: Path) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code`."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=cli_env(home), timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_the_parser_needs_no_pydantic(tmp_path: Path) -> None:
    loaded = _loaded_after("from pixup.cli import _build_parser\n_build_parser()", tmp_path)
    assert "pydantic" not in loaded
    assert "pixup.api.schema" not in loaded


def test_the_engine_needs_no_pydantic(tmp_path: Path) -> None:
    loaded = _loaded_after("import pixup.engine.providers, pixup.imaging.limits", tmp_path)
    assert "pydantic" not in loaded


def test_upscale_without_faces_loads_neither_faces_nor_onnx_nor_every_pillow_plugin(
    run_cli: RunCli, pixup_home: Path, tmp_path: Path
) -> None:
    src = photo(tmp_path / "in.png", (24, 20))
    first = run_cli("upscale", src, "-o", tmp_path / "warm", "--json")  # converts the model if need be
    assert first.returncode == 0, first.stderr
    out = tmp_path / "out"
    loaded = _loaded_after(
        f"from pixup.cli import main\nassert main(['upscale', {str(src)!r}, '-o', {str(out)!r}]) == 0",
        pixup_home,
    )
    assert (out / "in_pixup_4x.png").is_file()
    assert "onnx" not in loaded  # the converted model was cached by the first run
    assert not {m for m in loaded if m == "pixup.faces" or m.startswith("pixup.faces.")}
    assert not loaded & set(_RARE_PLUGINS)


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [(".tif", "TIFF"), (".tga", "{path}: TGA images are not supported (supported: PNG, JPEG")],
)
def test_pillow_plugins_still_load_when_a_file_needs_them(suffix: str, expected: str, tmp_path: Path) -> None:
    """In a fresh process, a format outside Pillow's common five (PNG, JPEG, GIF, BMP, PPM) is still
    recognised: a TIFF reads, a TGA gets its own error line, as when every plugin loaded at import."""
    path = tmp_path / f"in{suffix}"
    Image.open(photo(tmp_path / "in.png", (8, 6))).save(path)
    code = (
        "from pathlib import Path\n"
        "from pixup.errors import ImageReadError\n"
        "from pixup.imaging.decode import read_image\n"
        "try:\n"
        f"    print(read_image(Path({str(path)!r})).format)\n"
        "except ImageReadError as err:\n"
        "    print(err)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(tmp_path), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith(expected.format(path=path))


def test_the_uis_first_calls_load_no_onnx(tmp_path: Path) -> None:
    # The window renders once `capabilities` answers; importing onnx (ml_dtypes) took ~1 s of that.
    code = (
        "from pixup.jobs.service import faces_unavailable\n"
        "assert 'face model' in faces_unavailable()"
    )
    loaded = _loaded_after(code, tmp_path)
    assert "onnx" not in loaded and "ml_dtypes" not in loaded
