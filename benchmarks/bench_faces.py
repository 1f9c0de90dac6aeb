"""Face recovery cost: it grows with the number of faces, not with the number of pixels.

Two comparisons, measured in the same run (median of `--repeats` runs of `recover_faces`, the
detector and the face model already loaded, the upscale itself not timed):

- the astronaut (scikit-image, one face) upscaled ×2 and ×4: 4× the pixels, the same one face;
- a row of three 208-px tiles upscaled ×4 holding 0, 1 or 3 astronaut faces (coffee elsewhere):
  the same pixels, more faces.

Face model: `--model PATH` (your GFPGAN/CodeFormer ONNX file), else a stand-in built here with the
GFPGAN signature: five 3×3 convolutions at 512×512 (32 channels, about 15 GFLOP: the order of a
real restorer on CPU) with random weights and a residual, so it costs like a model without
changing much. The `identity` rows show what pixup adds around the model (detection, warps,
paste).

    PYTHONPATH=app .venv/bin/python benchmarks/bench_faces.py [--repeats 5] [--model PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import skimage.data
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "app") not in sys.path:
    sys.path.insert(0, str(ROOT / "app"))

from pixup.faces import FaceDetector, FaceModel, load_face_model, recover_faces  # noqa: E402

FACE = [1, 3, 512, 512]


def _save(path: Path, nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto]) -> Path:
    image = helper.make_tensor_value_info("input", TensorProto.FLOAT, FACE)
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, FACE)
    graph = helper.make_graph(nodes, path.stem, [image], [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def identity_model(path: Path) -> Path:
    return _save(path, [helper.make_node("Identity", ["input"], ["output"])], [])


def conv_model(path: Path, width: int = 32, layers: int = 5) -> Path:
    """A GFPGAN-signature stand-in that costs about what a small restorer costs."""
    rng = np.random.default_rng(0)
    nodes, inits, prev, channels = [], [], "input", 3
    for i in range(layers):
        out_ch = 3 if i == layers - 1 else width
        weight = rng.normal(0, 0.3 / np.sqrt(9 * channels), (out_ch, channels, 3, 3)).astype(np.float32)
        inits += [
            numpy_helper.from_array(weight, f"w{i}"),
            numpy_helper.from_array(np.zeros(out_ch, np.float32), f"b{i}"),
        ]
        name = f"h{i}"
        nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [name], pads=[1, 1, 1, 1]))
        if i < layers - 1:
            nodes.append(helper.make_node("Relu", [name], [f"r{i}"]))
            name = f"r{i}"
        prev, channels = name, out_ch
    nodes.append(helper.make_node("Add", ["input", prev], ["output"]))
    return _save(path, nodes, inits)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    height, width = image.shape[:2]
    return np.asarray(
        Image.fromarray(image).resize((width * factor, height * factor), Image.Resampling.BICUBIC)
    )


def tiled(faces: int, tiles: int = 3) -> np.ndarray:
    head = skimage.data.astronaut()[20:228, 122:330]
    plain = skimage.data.coffee()[150:358, 300:508]
    return np.concatenate([head if i < faces else plain for i in range(tiles)], axis=1)


def timings(runs: list[Callable[[], object]], repeats: int) -> list[list[float]]:
    """Milliseconds per run, `repeats` rounds; the runs are interleaved in each round so that a
    busy machine slows them all alike (after one warm-up round: first-run allocations, ORT arenas)."""
    for run in runs:
        run()
    out: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for times, run in zip(out, runs, strict=True):
            start = time.perf_counter()
            run()
            times.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", type=Path, help="a GFPGAN/CodeFormer-style ONNX file")
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    args = parser.parse_args()

    detector = FaceDetector()
    with tempfile.TemporaryDirectory() as tmp:
        models: dict[str, FaceModel] = {
            "identity": load_face_model(identity_model(Path(tmp) / "identity.onnx"))
        }
        if args.model:
            models[args.model.name] = load_face_model(args.model)
        else:
            models["conv stand-in"] = load_face_model(conv_model(Path(tmp) / "conv.onnx"))

        astronaut = skimage.data.astronaut()
        cases: list[tuple[str, np.ndarray, np.ndarray]] = [
            ("astronaut ×2", astronaut, upscale(astronaut, 2)),
            ("astronaut ×4", astronaut, upscale(astronaut, 4)),
        ]
        for n in (0, 1, 3):
            source = tiled(n)
            cases.append((f"tiles ×4, {n} face{'s' if n != 1 else ''}", source, upscale(source, 4)))

        plan = [
            (name, model, case, source, upscaled)
            for name, model in models.items()
            for case, source, upscaled in cases
        ]
        runs: list[Callable[[], object]] = [
            lambda s=source, u=upscaled, m=model: recover_faces(s, u, detector, m)
            for _, model, _, source, upscaled in plan
        ]
        runs.append(lambda: detector.detect(astronaut))
        measured = timings(runs, args.repeats)
        rows = [
            {
                "model": name,
                "case": case,
                "mpx": upscaled.shape[0] * upscaled.shape[1] / 1e6,
                "faces": len(detector.detect(source)),
                "best_ms": min(times),
                "median_ms": statistics.median(times),
            }
            for (name, _, case, source, upscaled), times in zip(plan, measured, strict=False)
        ]
        detect_ms = min(measured[-1])

    def ms(model: str, case: str) -> float:
        return next(float(r["best_ms"]) for r in rows if r["model"] == model and r["case"] == case)

    ratios = {}
    for model_name in models:
        ratios[model_name] = {
            "astronaut ×4 / ×2 (4× pixels, same face)": ms(model_name, "astronaut ×4")
            / ms(model_name, "astronaut ×2"),
            "3 faces / 1 face (same pixels)": ms(model_name, "tiles ×4, 3 faces")
            / ms(model_name, "tiles ×4, 1 face"),
            "1 face / 0 faces (same pixels)": ms(model_name, "tiles ×4, 1 face")
            / ms(model_name, "tiles ×4, 0 faces"),
        }
    if args.json:
        print(json.dumps({"rows": rows, "ratios": ratios, "detect_512_ms": detect_ms}))
        return
    rounds = f"{args.repeats} interleaved rounds"
    print(f"recover_faces on CPU, {rounds} (detection alone on 512×512: {detect_ms:.0f} ms)\n")
    print(
        f"| {'model':<14} | {'case':<20} | {'output MP':>9} | {'faces':>5} "
        f"| {'best ms':>8} | {'median ms':>9} |"
    )
    print(f"|{'-' * 16}|{'-' * 22}|{'-' * 11}|{'-' * 7}|{'-' * 10}|{'-' * 11}|")
    for r in rows:
        print(
            f"| {r['model']:<14} | {r['case']:<20} | {r['mpx']:>9.2f} | {r['faces']:>5} "
            f"| {r['best_ms']:>8.1f} | {r['median_ms']:>9.1f} |"
        )
    print("\nratios of best times:")
    for model_name, named in ratios.items():
        for label, value in named.items():
            print(f"{model_name:<14} {label:<42} {value:5.2f}×")


if __name__ == "__main__":
    main()
