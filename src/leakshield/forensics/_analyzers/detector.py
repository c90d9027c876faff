"""A learned AI-image detector the user configured (an ONNX model): a weak hint, never proof.

The model is ``detector_model``; beside it, ``MODEL.json`` (the same name with ``.json``)
says what it is and how to feed it::

    {"name": "...", "stated_accuracy": "AUC 0.97 in-domain, 0.71 across datasets",
     "source": "where it came from",
     "input": {"size": [224, 224], "mean": [0.485, 0.456, 0.406],
               "std": [0.229, 0.224, 0.225], "layout": "NCHW", "range": 1},
     "output": {"kind": "logit", "index": 0}}

``range`` 1 feeds pixels as 0-1, 255 as 0-255, before ``(x - mean) / std``. ``kind``:
"probability" reads output ``index`` as is, "logit" applies a sigmoid to it, "softmax" takes
the softmax over all output values. ``index`` is the "generated" class.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leakshield.errors import ConfigError
from leakshield.forensics._model import Direction, Finding, Strength, failed
from leakshield.forensics._registry import AnalysisContext, analyzer
from leakshield.forensics._subject import Subject

__all__ = ["Detector", "ModelDescription", "learned_detector", "load_detector"]

MAX_MODEL_BYTES = 2 << 30  # ONNX's own protobuf limit; a bigger file is not one model
MAX_DESCRIPTION_BYTES = 64 << 10
MAX_INPUT_SIDE = 4096
THRESHOLD = 0.5

_TITLE = "Learned AI-image detector"
_SETTING = "the setting detector_model (LEAKSHIELD_DETECTOR_MODEL)"
_INSTALL = "pip install 'leakshield[detector]'"

_CAVEAT = (
    "Learned detectors fail often on images unlike the ones they were trained on: across "
    "generators and datasets their accuracy often falls to 40-70%, and some learned to tell "
    "file formats or compression apart rather than generated from camera images. Its score "
    "is a weak hint, never proof either way."
)


_Side = Annotated[int, Field(ge=1, le=MAX_INPUT_SIDE)]
_Mean = Annotated[float, Field(allow_inf_nan=False)]
_Std = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    size: tuple[_Side, _Side]  # [height, width]
    mean: tuple[_Mean, _Mean, _Mean]
    std: tuple[_Std, _Std, _Std]
    layout: Literal["NCHW", "NHWC"]
    range: Literal[1, 255]


class _Output(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    kind: Literal["probability", "logit", "softmax"]
    index: int = Field(ge=0, le=1_000_000)


class ModelDescription(BaseModel):
    """What ``MODEL.json`` says about a detector: what it is, its maker's stated accuracy,
    and how to feed it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(min_length=1, max_length=200)
    stated_accuracy: str = Field(min_length=1, max_length=1000)
    source: str = Field(min_length=1, max_length=1000)
    input: _Input
    output: _Output


@dataclass(frozen=True, eq=False)
class Detector:
    """A loaded detector: its description, the digest of the model file, and the session
    that runs it."""

    path: Path
    description: ModelDescription
    sha256: str
    session: Any  # onnxruntime.InferenceSession, an optional dependency

    def score(self, pixels: NDArray[np.uint8]) -> float:
        """The model's score (0-1) that ``pixels`` (H x W x 3 RGB) are generated."""
        batch = _prepare(pixels, self.description.input)
        name = self.session.get_inputs()[0].name
        try:
            outputs = self.session.run(None, {name: batch})
            values = np.asarray(outputs[0], dtype=np.float64).reshape(-1)
        except Exception as exc:  # onnxruntime's own classes: the model does not fit
            problem = f"the model failed on an input of shape {list(batch.shape)}"
            self.refuse(f"{problem} ({_first_line(exc)})")
        return _read_score(self, values)

    def refuse(self, problem: str) -> NoReturn:
        """Raise the `ConfigError` for a model that does not fit its description."""
        raise ConfigError(
            f"The detector model {self.path} does not fit its description "
            f"{self.path.with_suffix('.json')}: {problem}. Fix MODEL.json or {_SETTING}."
        )


_cache: dict[tuple[object, ...], Detector] = {}
_cache_lock = threading.Lock()


def load_detector(path: Path) -> Detector:
    """Read and check the model at ``path`` and its ``MODEL.json``; raises `ConfigError`
    that names the problem and the setting (also when onnxruntime is not installed)."""
    description_path = path.with_suffix(".json")
    model_stat = _regular_file(path, "model", MAX_MODEL_BYTES)
    json_stat = _regular_file(description_path, "description", MAX_DESCRIPTION_BYTES)
    key = (str(path), *_identity(model_stat), str(description_path), *_identity(json_stat))
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    description = _read_description(description_path)
    onnxruntime = _onnxruntime()
    # Hash and load the same bytes, so the digest reported is of the model that ran.
    model = _read_bounded(path, "model", MAX_MODEL_BYTES)
    session = _session(onnxruntime, path, model)
    detector = Detector(path, description, hashlib.sha256(model).hexdigest(), session)
    _check_shapes(detector)
    with _cache_lock:
        _cache.clear()  # one configured model at a time: keep memory to one session
        _cache[key] = detector
    return detector


@analyzer("learned-detector", _TITLE)
def learned_detector(subject: Subject, context: AnalysisContext) -> list[Finding]:
    """The configured detector's score, reported as a weak hint with its stated accuracy;
    nothing when no detector is configured."""
    if context.detector_model is None:
        return []  # not configured: nothing to report, and not a gap in the analysis
    try:
        detector = load_detector(context.detector_model)
        if subject.upright is None:
            reason = subject.problem.message if subject.problem else "no pixels decoded"
            message = f"the pixels could not be read ({reason})"
            return [failed("learned-detector", _TITLE, "no-pixels", message)]
        score = detector.score(subject.rgb())
    except ConfigError as exc:
        code = str(getattr(exc, "code", exc.slug))
        return [failed("learned-detector", _TITLE, code, exc.message)]
    return [_finding(detector, score)]


def _finding(detector: Detector, score: float) -> Finding:
    about = detector.description
    leans = score >= THRESHOLD
    stated = f"its maker states its accuracy as: {about.stated_accuracy}"
    if leans:
        summary = (
            f"The learned detector {about.name} scored {score:.2f} (0.5 or more leans "
            f"generated): a weak hint, not proof; {stated}."
        )
    else:
        summary = (
            f"The learned detector {about.name} scored {score:.2f} (under 0.5); this does not "
            f"show the image is a camera original; {stated}."
        )
    explanation = (
        f"{about.name} (source: {about.source}) is a learned AI-image detector you configured; "
        f"{stated}. It scored this picture {score:.3f} on a scale from 0 (camera image) to 1 "
        f"(generated), and scores of {THRESHOLD} or more are read as leaning generated. "
        f"{_CAVEAT}"
    )
    if not leans:
        explanation += " A low score does not show that the image is unedited or camera-made."
    return Finding(
        analyzer="learned-detector",
        examined=_TITLE,
        strength=Strength.WEAK if leans else Strength.NONE,  # never more than weak
        direction=Direction.AI_GENERATED if leans else Direction.INFORMATIONAL,
        summary=summary,
        explanation=explanation,
        evidence={
            "model": about.name,
            "source": about.source,
            "stated_accuracy": about.stated_accuracy,
            "score": round(score, 4),
            "threshold": THRESHOLD,
            "model_sha256": detector.sha256,
            "input_size": list(about.input.size),
        },
    )


class _MissingRuntime(ConfigError):
    """onnxruntime, an optional dependency, is not installed."""

    code = "missing-dependency"


def _onnxruntime() -> Any:
    try:
        return importlib.import_module("onnxruntime")
    except ImportError:
        raise _MissingRuntime(
            f"A learned detector is configured in {_SETTING}, but onnxruntime is not "
            f"installed. Install it with `{_INSTALL}`, or unset the setting."
        ) from None


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _regular_file(path: Path, what: str, limit: int) -> os.stat_result:
    """``path``'s status after checking it is a regular file of 1 to ``limit`` bytes."""
    hint = _hint(what)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"The detector {what} {path} does not exist. {hint}") from None
    except OSError as exc:
        raise ConfigError(
            f"The detector {what} {path} cannot be read: {exc.strerror}. {hint}"
        ) from None
    _check_stat(info, path, what, limit)
    return info


def _check_stat(info: os.stat_result, path: Path, what: str, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"The detector {what} {path} is not a regular file. {_hint(what)}")
    if not 0 < info.st_size <= limit:
        raise ConfigError(
            f"The detector {what} {path} is {info.st_size:,} bytes; it must be 1 to "
            f"{limit:,} bytes. {_hint(what)}"
        )


def _hint(what: str) -> str:
    if what == "description":
        return (
            "A detector model needs its description beside it, the same name ending .json, "
            "with name, stated_accuracy, source, input and output. Write it, or fix "
            f"{_SETTING}."
        )
    return f"Fix {_SETTING}."


def _read_bounded(path: Path, what: str, limit: int) -> bytes:
    """The bytes of ``path``, refusing anything but a regular file of at most ``limit``
    bytes (checked on the open file, which is what gets read)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the open
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise ConfigError(
            f"The detector {what} {path} cannot be read: {exc.strerror}. {_hint(what)}"
        ) from None
    with os.fdopen(descriptor, "rb") as handle:
        _check_stat(os.fstat(descriptor), path, what, limit)  # the file that is read
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ConfigError(f"The detector {what} {path} is over {limit:,} bytes. {_hint(what)}")
    return data


def _read_description(path: Path) -> ModelDescription:
    raw = _read_bounded(path, "description", MAX_DESCRIPTION_BYTES)
    try:
        return ModelDescription.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'the file'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise ConfigError(
            f"The detector description {path} is not valid: {problems}. {_hint('description')}"
        ) from None


def _session(onnxruntime: Any, path: Path, model: bytes) -> Any:
    options = onnxruntime.SessionOptions()
    # One thread: analyze runs next to other work, and a score needs no speed.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: warnings would clutter the CLI
    try:
        return onnxruntime.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own classes for a file it cannot load
        raise ConfigError(
            f"The detector model {path} could not be loaded by onnxruntime "
            f"({_first_line(exc)}). "
            f"Check that it is an ONNX model, or fix {_SETTING}."
        ) from None


def _check_shapes(detector: Detector) -> None:
    """Refuse a model whose declared input or output cannot fit its description."""
    spec = detector.description.input
    inputs = detector.session.get_inputs()
    if len(inputs) != 1:
        detector.refuse(f"the model takes {len(inputs)} inputs; a detector takes one image")
    if inputs[0].type != "tensor(float)":
        detector.refuse(f"the model's input is {inputs[0].type}; a detector takes tensor(float)")
    height, width = spec.size
    expected = (1, 3, height, width) if spec.layout == "NCHW" else (1, height, width, 3)
    shape = list(inputs[0].shape)
    if len(shape) != 4 or any(
        isinstance(have, int) and have > 0 and have != want
        for have, want in zip(shape, expected, strict=False)
    ):
        detector.refuse(
            f"the model's input shape is {shape}, but MODEL.json describes "
            f"{list(expected)} ({spec.layout}, input.size {list(spec.size)})"
        )
    outputs = detector.session.get_outputs()
    dims = list(outputs[0].shape) if outputs else []
    if not outputs or all(isinstance(d, int) and d > 0 for d in dims):
        _check_index(detector, int(np.prod(dims)) if outputs else 0)


def _check_index(detector: Detector, count: int) -> None:
    index = detector.description.output.index
    if index >= count:
        detector.refuse(
            f"the model gives {count} output value(s), but MODEL.json output.index is {index}"
        )
    if detector.description.output.kind == "softmax" and count < 2:
        detector.refuse("output.kind is softmax, but the model gives a single output value")


def _prepare(pixels: NDArray[np.uint8], spec: _Input) -> NDArray[np.float32]:
    """``pixels`` resized, scaled and normalised as MODEL.json describes, as a batch of one."""
    height, width = spec.size
    shrinking = pixels.shape[0] * pixels.shape[1] > height * width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized = cv2.resize(pixels, (width, height), interpolation=interpolation)
    scaled = resized.astype(np.float32) / np.float32(255.0 if spec.range == 1 else 1.0)
    mean, std = np.asarray(spec.mean, np.float32), np.asarray(spec.std, np.float32)
    values: NDArray[np.float32] = (scaled - mean) / std
    if spec.layout == "NCHW":
        values = values.transpose(2, 0, 1)
    return np.ascontiguousarray(values[np.newaxis], dtype=np.float32)


def _first_line(exc: Exception) -> str:
    """An onnxruntime message's first line, bounded (they can run to pages)."""
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def _read_score(detector: Detector, values: NDArray[np.float64]) -> float:
    output = detector.description.output
    _check_index(detector, values.size)
    if not np.all(np.isfinite(values)):
        detector.refuse("the model gave a value that is not a finite number")
    value = float(values[output.index])
    if output.kind == "probability":
        if not 0.0 <= value <= 1.0:
            detector.refuse(
                f"output.kind is probability, but the model gave {value:.4g}, outside 0-1 "
                "(if it gives logits, set output.kind to logit)"
            )
        return value
    if output.kind == "logit":
        return float(np.exp(-np.logaddexp(0.0, -value)))  # a sigmoid that cannot overflow
    shifted = np.exp(values - values.max())
    return float(shifted[output.index] / shifted.sum())
