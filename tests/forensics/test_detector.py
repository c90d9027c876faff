"""The learned-detector plug-in: a configured ONNX model's score is a weak hint with its
stated accuracy, and every misconfiguration is a clear error that stops no other analyzer."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from leakshield.forensics import AnalysisContext, Direction, Finding, Strength, analyze
from leakshield.forensics._analyzers import detector

ONLY = ["error-level", "noise-residual", "learned-detector"]
SIDE = 16


def _onnx(
    path: Path, *, layout: str = "NCHW", kind: str = "probability", dynamic: bool = False
) -> None:
    """A model whose score rises with the image's brightness: mean of the input, then a
    sigmoid (probability), nothing (logit), or [-mean, mean] (softmax over two classes)."""
    shape = [1, 3, SIDE, SIDE] if layout == "NCHW" else [1, SIDE, SIDE, 3]
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)
    nodes = [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1, 2, 3], keepdims=0)]
    if kind == "probability":
        nodes.append(helper.make_node("Sigmoid", ["mean"], ["score"]))
    elif kind == "logit":
        nodes.append(helper.make_node("Identity", ["mean"], ["score"]))
    else:
        nodes.append(helper.make_node("Neg", ["mean"], ["negative"]))
        nodes.append(helper.make_node("Concat", ["negative", "mean"], ["score"], axis=0))
    out_shape: list[Any] = ["n"] if dynamic else [2 if kind == "softmax" else 1]
    score = helper.make_tensor_value_info("score", TensorProto.FLOAT, out_shape)
    graph = helper.make_graph(nodes, "brightness", [image], [score])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def _description(**changes: Any) -> dict[str, Any]:
    about: dict[str, Any] = {
        "name": "Brightness test model",
        "stated_accuracy": "AUC 0.97 in-domain, 0.71 across datasets",
        "source": "built by the test suite",
        "input": {
            "size": [SIDE, SIDE],
            "mean": [0.5, 0.5, 0.5],
            "std": [0.25, 0.25, 0.25],
            "layout": "NCHW",
            "range": 1,
        },
        "output": {"kind": "probability", "index": 0},
    }
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            about[section][field] = value
        elif value is None:
            del about[section]
        else:
            about[section] = value
    return about


def _install(root: Path, *, model: dict[str, Any] | None = None, **changes: Any) -> Path:
    path = root / "detector.onnx"
    _onnx(path, **(model or {}))
    path.with_suffix(".json").write_text(json.dumps(_description(**changes)))
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("detector-images")
    paths = {}
    for name, level in (("dark", 10), ("bright", 245)):
        paths[name] = root / f"{name}.png"
        Image.fromarray(np.full((30, 40, 3), level, dtype=np.uint8)).save(paths[name])
    return paths


def _run(image: Path, model: Path | None) -> dict[str, Finding]:
    findings = analyze(image, AnalysisContext(detector_model=model), only=ONLY).findings
    return {f.analyzer: f for f in findings}


@pytest.mark.parametrize(
    ("layout", "kind", "scale"),
    [("NCHW", "probability", 1), ("NHWC", "logit", 255), ("NCHW", "softmax", 1)],
)
def test_score_is_a_weak_hint_with_the_models_stated_accuracy(
    tmp_path: Path, images: dict[str, Path], layout: str, kind: str, scale: int
) -> None:
    path = _install(
        tmp_path,
        model={"layout": layout, "kind": kind},
        input__layout=layout,
        input__range=scale,
        input__mean=[0.5 * scale] * 3,
        input__std=[0.25 * scale] * 3,
        output={"kind": kind, "index": 1 if kind == "softmax" else 0},
    )
    bright = _run(images["bright"], path)["learned-detector"]
    dark = _run(images["dark"], path)["learned-detector"]

    assert bright.error is None and dark.error is None
    assert bright.direction is Direction.AI_GENERATED
    assert bright.strength is Strength.WEAK
    assert bright.evidence["score"] > 0.8
    assert dark.direction is Direction.INFORMATIONAL
    assert dark.strength is Strength.NONE
    assert dark.evidence["score"] < 0.2
    for finding in (bright, dark):
        for text in (finding.summary, finding.explanation):
            assert "Brightness test model" in text
            assert "AUC 0.97 in-domain, 0.71 across datasets" in text
        assert "40-70%" in finding.explanation
        assert "never proof either way" in finding.explanation
        assert finding.evidence["source"] == "built by the test suite"
        assert finding.evidence["model_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_low_score_never_reads_as_a_camera_original(
    tmp_path: Path, images: dict[str, Path]
) -> None:
    dark = _run(images["dark"], _install(tmp_path))["learned-detector"]
    assert dark.direction is not Direction.CAMERA_ORIGINAL
    assert "does not show" in dark.summary


def test_without_a_configured_model_there_is_nothing_to_report(images: dict[str, Path]) -> None:
    findings = _run(images["bright"], None)
    assert "learned-detector" not in findings
    assert set(findings) == {"error-level", "noise-residual"}


def test_an_edited_description_takes_effect(tmp_path: Path, images: dict[str, Path]) -> None:
    path = _install(tmp_path)
    assert _run(images["bright"], path)["learned-detector"].evidence["model"] == (
        "Brightness test model"
    )
    path.with_suffix(".json").write_text(json.dumps(_description(name="Renamed model v2")))
    assert _run(images["bright"], path)["learned-detector"].evidence["model"] == (
        "Renamed model v2"
    )


def _fifo(root: Path) -> Path:
    path = _install(root)
    path.unlink()
    os.mkfifo(path)
    return path


def _directory(root: Path) -> Path:
    path = _install(root)
    path.unlink()
    path.mkdir()
    return path


def _rewrite(text: str) -> Callable[[Path], Path]:
    def setup(root: Path) -> Path:
        path = _install(root)
        path.with_suffix(".json").write_text(text)
        return path

    return setup


def _garbage(root: Path) -> Path:
    path = _install(root)
    path.write_bytes(b"this is not an ONNX model\n" * 10)
    return path


REFUSALS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "description missing": (
        lambda root: _install(root).with_suffix(".json").unlink() or root / "detector.onnx",
        "does not exist",
    ),
    "description not JSON": (_rewrite("{not json"), "is not valid"),
    "description not an object": (_rewrite("[1, 2, 3]"), "is not valid"),
    "field missing": (lambda root: _install(root, stated_accuracy=None), "stated_accuracy"),
    "field misspelt": (
        _rewrite(json.dumps({**_description(), "stated_acuracy": "high"})),
        "stated_acuracy",
    ),
    "bad layout": (lambda root: _install(root, input__layout="CHW"), "input.layout"),
    "zero std": (lambda root: _install(root, input__std=[0.25, 0, 0.25]), "input.std"),
    "size too big": (lambda root: _install(root, input__size=[16, 100000]), "input.size"),
    "bad output kind": (
        lambda root: _install(root, output={"kind": "score", "index": 0}),
        "output.kind",
    ),
    "model missing": (lambda root: root / "absent.onnx", "does not exist"),
    "model is a directory": (_directory, "not a regular file"),
    "model is a pipe": (_fifo, "not a regular file"),
    "model not ONNX": (_garbage, "could not be loaded by onnxruntime"),
    "size does not fit the model": (
        lambda root: _install(root, input__size=[32, 32]),
        "input shape",
    ),
    "index beyond the outputs": (
        lambda root: _install(root, output={"kind": "probability", "index": 3}),
        "output.index is 3",
    ),
    "index beyond dynamic outputs": (
        lambda root: _install(
            root, model={"dynamic": True}, output={"kind": "probability", "index": 3}
        ),
        "output.index is 3",
    ),
    "logits read as probability": (lambda root: _install(root, model={"kind": "logit"}), "0-1"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_misconfigured_detector_is_a_clear_error_that_stops_nothing_else(
    tmp_path: Path, images: dict[str, Path], case: str
) -> None:
    setup, expected = REFUSALS[case]
    findings = _run(images["bright"], setup(tmp_path))

    refusal = findings["learned-detector"]
    assert refusal.error is not None
    assert refusal.error["code"] == "configuration-error"
    assert expected in refusal.error["message"]
    assert "LEAKSHIELD_DETECTOR_MODEL" in refusal.error["message"]
    assert refusal.strength is Strength.NONE
    for other in ("error-level", "noise-residual"):
        assert findings[other].error is None
        assert findings[other].images


def test_a_model_over_the_size_bound_is_refused(
    tmp_path: Path, images: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detector, "MAX_MODEL_BYTES", 64)
    refusal = _run(images["bright"], _install(tmp_path))["learned-detector"]
    assert refusal.error is not None
    assert "it must be 1 to 64 bytes" in refusal.error["message"]


def test_without_onnxruntime_the_error_says_how_to_install_it(
    tmp_path: Path, images: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    findings = _run(images["bright"], _install(tmp_path))
    refusal = findings["learned-detector"]
    assert refusal.error is not None
    assert refusal.error["code"] == "missing-dependency"
    assert "pip install 'leakshield[detector]'" in refusal.error["message"]
    assert findings["error-level"].error is None


def test_without_pixels_the_detector_says_it_could_not_examine(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    refusal = _run(broken, _install(tmp_path))["learned-detector"]
    assert refusal.error is not None
    assert refusal.error["code"] == "no-pixels"
