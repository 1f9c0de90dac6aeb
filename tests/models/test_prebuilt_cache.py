"""Entries converted when the app was built (pixup.models.cache.PREBUILT_DIR): used as they are, so an
installed app never converts or quantises its scenario models; a damaged one falls back to the user
cache; variants of a prebuilt model come from the prebuilt folder or are made in the user cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
import pytest

from pixup.models import cache
from pixup.models.bundled import bundled_model
from pixup.models.cache import cache_key, converted_model, derived_model, is_cached


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(param, bin, prebuilt folder): a real bundled pair converted into a stand-in prebuilt folder,
    and an empty user cache under PIXUP_HOME."""
    param, weights = bundled_model("realesr-animevideov3-x2").files()  # type: ignore[union-attr]
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "build-home"))
    built = converted_model(param, weights)
    prebuilt = tmp_path / "app" / "pixup" / "prebuilt" / "onnx"
    shutil.copytree(built.parent, prebuilt, ignore=shutil.ignore_patterns("*.lock"))
    monkeypatch.setattr(cache, "PREBUILT_DIR", prebuilt)
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "user-home"))
    cache._verified.clear()
    return param, weights, prebuilt


def _user_cache(tmp_path: Path) -> list[str]:
    folder = tmp_path / "user-home" / "cache" / "onnx"
    return sorted(p.name for p in folder.glob("*.onnx")) if folder.is_dir() else []


def test_a_prebuilt_entry_is_used_without_converting(
    shipped: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    param, weights, prebuilt = shipped

    def no_conversion(*_: object) -> None:
        raise AssertionError("converted although a prebuilt entry was shipped")

    monkeypatch.setattr("pixup.models.importers.ncnn.convert.convert_ncnn", no_conversion)
    assert is_cached(param, weights)
    path = converted_model(param, weights)
    assert path == prebuilt / f"{cache_key(param, weights)}.onnx"
    assert _user_cache(tmp_path) == []


def test_a_damaged_prebuilt_entry_is_converted_into_the_user_cache(
    shipped: tuple[Path, Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    param, weights, prebuilt = shipped
    damaged = prebuilt / f"{cache_key(param, weights)}.onnx"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    path = converted_model(param, weights)
    assert path.parent == tmp_path / "user-home" / "cache" / "onnx"
    onnx.checker.check_model(onnx.load(str(path)))
    assert "prebuilt model" in caplog.text and "damaged" in caplog.text


def test_variants_of_a_prebuilt_model(shipped: tuple[Path, Path, Path], tmp_path: Path) -> None:
    param, weights, prebuilt = shipped
    base = converted_model(param, weights)
    calls: list[str] = []

    def renamed(model: onnx.ModelProto) -> onnx.ModelProto:
        calls.append("made")
        model.graph.name = "variant"
        return model

    # Not shipped: made once in the user cache (the install folder is read-only), then reused.
    made = derived_model(base, "test", renamed)
    assert made.parent == tmp_path / "user-home" / "cache" / "onnx" and made.name == f"{base.stem}.test.onnx"
    assert derived_model(base, "test", renamed) == made and calls == ["made"]
    # Shipped: used from the prebuilt folder, nothing made.
    shutil.copy(made, prebuilt / made.name)
    shutil.copy(made.with_suffix(".json"), prebuilt / made.with_suffix(".json").name)
    assert derived_model(base, "test", renamed) == prebuilt / made.name and calls == ["made"]
