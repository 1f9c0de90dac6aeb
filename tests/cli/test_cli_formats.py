"""Images in and out through the CLI: formats, metadata, orientation, alpha, 16-bit, folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import piexif
import pytest
from PIL import Image, ImageCms

from tests.cli.conftest import RunCli, photo


def _records(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_jpeg_with_exif_orientation_and_icc(run_cli: RunCli, tmp_path: Path) -> None:
    # A 24×16 picture stored sideways (Orientation 6): the user sees 16×24.
    src_img = Image.open(photo(tmp_path / "p.png", (24, 16)))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: 6, piexif.ImageIFD.Make: b"pixup-test"},
                        "Exif": {piexif.ExifIFD.PixelXDimension: 24, piexif.ExifIFD.PixelYDimension: 16}})
    src = tmp_path / "cam.jpg"
    src_img.save(src, quality=95, exif=exif, icc_profile=icc)
    proc = run_cli("upscale", src, "-o", tmp_path / "out", "--json", "--quality", "90")
    assert proc.returncode == 0, proc.stderr
    out = Path(str(_records(proc.stdout)[0]["output"]))
    assert out.name == "cam_pixup_4x.jpg"
    result = Image.open(out)
    assert result.format == "JPEG"
    assert result.size == (64, 96)  # upright: 16×24 shown → ×4
    assert result.info.get("icc_profile") == icc
    tags = piexif.load(result.info["exif"])
    assert tags["0th"][piexif.ImageIFD.Orientation] == 1
    assert tags["0th"][piexif.ImageIFD.Make] == b"pixup-test"
    assert tags["Exif"][piexif.ExifIFD.PixelXDimension] == 64
    assert tags["Exif"][piexif.ExifIFD.PixelYDimension] == 96
    assert tags["thumbnail"] is None


def test_rgba_png_keeps_alpha_and_jpeg_flattens_on_background(run_cli: RunCli, tmp_path: Path) -> None:
    rgba = np.zeros((16, 20, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, 10:, 3] = 255  # left half transparent, right half opaque red
    src = tmp_path / "cut.png"
    Image.fromarray(rgba, "RGBA").save(src)
    proc = run_cli("upscale", src, "-o", tmp_path / "o", "--json")
    assert proc.returncode == 0, proc.stderr
    out = np.asarray(Image.open(str(_records(proc.stdout)[0]["output"])))
    assert out.shape == (64, 80, 4)
    assert out[:, :30, 3].max() <= 8 and out[:, 50:, 3].min() >= 247
    proc = run_cli("upscale", src, "-o", tmp_path / "j", "--json", "--format", "jpg",
                   "--background", "#00ff00")
    assert proc.returncode == 0, proc.stderr
    flat = np.asarray(Image.open(str(_records(proc.stdout)[0]["output"])).convert("RGB")).astype(int)
    assert flat.shape == (64, 80, 3)
    assert abs(flat[32, 5, 1] - 255) < 30 and flat[32, 5, 0] < 40  # green where it was transparent


def test_16bit_png_stays_16bit(run_cli: RunCli, tmp_path: Path) -> None:
    gray = (np.linspace(0, 65535, 24 * 20).reshape(20, 24)).astype(np.uint16)
    src = tmp_path / "deep.png"
    Image.fromarray(gray).save(src)  # uint16 → mode I;16
    proc = run_cli("upscale", src, "-o", tmp_path / "o", "--json")
    assert proc.returncode == 0, proc.stderr
    out = Image.open(str(_records(proc.stdout)[0]["output"]))
    arr = np.asarray(out)
    assert arr.shape[:2] == (80, 96)
    assert arr.dtype == np.uint16 or out.mode.startswith("I;16")
    # A 16-bit gradient keeps more than 256 distinct levels.
    assert len(np.unique(arr)) > 1000


@pytest.mark.parametrize("fmt", ["png", "webp", "jpg", "tiff"])
def test_each_output_format(run_cli: RunCli, tmp_path: Path, fmt: str) -> None:
    src = photo(tmp_path / "x.png", (20, 12))
    proc = run_cli("upscale", src, "-o", tmp_path / "o", "--json", "--format", fmt, "--scale", "2")
    assert proc.returncode == 0, proc.stderr
    out = Path(str(_records(proc.stdout)[0]["output"]))
    assert out.suffix == f".{fmt}"
    img = Image.open(out)
    assert img.size == (40, 24)
    assert img.format == {"png": "PNG", "webp": "WEBP", "jpg": "JPEG", "tiff": "TIFF"}[fmt]


def test_recursive_folder_keeps_tree_and_skips_its_own_output(run_cli: RunCli, tmp_path: Path) -> None:
    root = tmp_path / "shots"
    (root / "a" / "b").mkdir(parents=True)
    photo(root / "top.png")
    photo(root / "a" / "b" / "deep.jpg")
    (root / "notes.txt").write_text("not an image")
    out = root / "big"  # output inside the input tree: must not be re-read
    proc = run_cli("upscale", root, "-r", "-o", out, "--json", "--scale", "2")
    assert proc.returncode == 0, proc.stderr
    made = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert made == ["a/b/deep_pixup_2x.jpg", "top_pixup_2x.png"]


def test_webp_too_big_is_refused_before_inference(run_cli: RunCli, tmp_path: Path) -> None:
    src = photo(tmp_path / "wide.png", (4200, 8))  # ×4 = 16800 px wide > WebP's 16383
    proc = run_cli("upscale", src, "-o", tmp_path / "o", "--format", "webp")
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert "\n" not in line and "WebP" in line and "png" in line
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
