"""`pixup models list|import|info` and `pixup info`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pixup.models.bundled import bundled_model
from tests.cli.conftest import RunCli, photo
from tests.engine import graphs


def test_info_json_reports_providers_precision_memory_paths(run_cli: RunCli, pixup_home: Path) -> None:
    proc = run_cli("info", "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert "CPUExecutionProvider" in info["providers"]
    assert info["precision"]["exact"][0]["precision"] == "fp32"
    assert info["precision"]["fast"][-1]["provider"] == "CPUExecutionProvider"
    assert info["memory"]["ram_total"] > info["memory"]["ram_free"] > 0
    assert info["paths"]["models"] == str(pixup_home / "models")
    assert info["paths"]["cache"] == str(pixup_home / "cache")


def test_info_says_what_fast_means_for_models_without_int8(run_cli: RunCli) -> None:
    plan = json.loads(run_cli("info", "--json").stdout)["precision"]["fast"]
    proc = run_cli("info")
    assert proc.returncode == 0, proc.stderr
    fast = next(line for line in proc.stdout.splitlines() if line.strip().startswith("fast:"))
    assert plan[0]["description"] in fast
    if plan[0]["variant"] == "int8":  # x86 without AMX: the other models' choice is named too
        assert "for the models measured for it, else " + plan[1]["description"] in fast
    else:
        assert "else" not in fast


def test_models_list_json_has_bundled_defaults(run_cli: RunCli) -> None:
    proc = run_cli("models", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    assert rows["realesr-animevideov3-x4"]["scenario"] == "Universal Fast"
    assert rows["realesrgan-x4plus"]["source"] == "bundled"
    assert any(i.startswith("waifu2x-") for i in rows) and any(i.startswith("realcugan-") for i in rows)


def test_import_then_list_then_upscale_with_it(run_cli: RunCli, tmp_path: Path) -> None:
    model = graphs.save(graphs.pixel_shuffle_x3(), tmp_path / "tri.onnx")
    proc = run_cli("models", "import", model, "--name", "tri-cli")
    assert proc.returncode == 0, proc.stderr
    assert "imported tri-cli" in proc.stdout and "3×" in proc.stdout
    rows = {r["id"]: r for r in json.loads(run_cli("models", "list", "--json").stdout)}
    assert rows["tri-cli"]["scenario"] == "Custom"
    info = json.loads(run_cli("models", "info", "tri-cli", "--json").stdout)
    assert info["spec"]["scale"] == 3.0
    proc = run_cli("upscale", photo(tmp_path / "i.png", (10, 8)), "-o", tmp_path / "o", "--model", "tri-cli",
                   "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["out_width"] == 30
    # Importing the same name again is refused and leaves the stored model alone.
    proc = run_cli("models", "import", model, "--name", "tri-cli")
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(
        "a model named tri-cli already exists; use --overwrite to replace it, "
        "or --name to import it under another name"
    )


def test_unknown_model_points_to_models_list(run_cli: RunCli, tmp_path: Path) -> None:
    proc = run_cli("models", "info", "realesrgan-x4plu")
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert line.startswith("pixup: unknown model 'realesrgan-x4plu' (did you mean realesrgan-x4plus, ")
    assert line.endswith("?); `pixup models list` shows them all")
    proc = run_cli("upscale", photo(tmp_path / "i.png", (10, 8)), "--model", "nope-at-all")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "pixup: unknown model 'nope-at-all'; `pixup models list` shows them all"


def test_import_rejects_non_image_models_with_one_line(run_cli: RunCli, tmp_path: Path) -> None:
    cls = graphs.save(graphs.classifier(), tmp_path / "cls.onnx")
    proc = run_cli("models", "import", cls)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cls.onnx" in lines[0] and "image-to-image" in lines[0]
    ids = {r["id"] for r in json.loads(run_cli("models", "list", "--json").stdout)}
    assert "cls" not in ids


def test_import_of_upscayl_folder_with_bundled_weights(run_cli: RunCli, tmp_path: Path) -> None:
    found = bundled_model("realesr-animevideov3-x4")
    assert found is not None
    folder = tmp_path / "upscayl-models"
    folder.mkdir()
    for part in found.files():
        shutil.copy(part, folder / f"realesr-animevideov3-x4{part.suffix}")
    proc = run_cli("models", "import", folder)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        f"{folder / 'realesr-animevideov3-x4.param'}: already bundled as realesr-animevideov3-x4; "
        "nothing copied"
    )
