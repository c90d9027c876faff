"""Generator settings in a file's text metadata: AUTOMATIC1111 / Forge, ComfyUI, InvokeAI,
NovelAI and Fooocus, each parsed within bounds into evidence a person can read."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from leakshield.forensics._analyzers._metadata_read import Metadata, TextEntry, clean

__all__ = ["GeneratorSettings", "find_settings"]

MAX_JSON_CHARS = 1 << 20
MAX_WALK_ITEMS = 20_000  # values visited in one JSON document
MAX_WALK_DEPTH = 16
PROMPT_CHARS = 300  # prompts may hold explicit text: kept for the analyst, but bounded
MAX_LISTED = 40

# A1111's own pattern for "Key: value," pairs on its settings line.
# Bounded repeats keep it linear on a hostile line (A1111's own uses unbounded ones).
_A1111_PAIR = re.compile(r'(\w[\w \-/]{0,60}):\s*("(?:\\.|[^\\"]){1,2000}"|[^,]*)(?:,|$)')
SETTINGS_LINE_CHARS = 8000
_A1111_KEYS = {
    "Steps": "steps",
    "Sampler": "sampler",
    "Schedule type": "schedule_type",
    "CFG scale": "cfg_scale",
    "Seed": "seed",
    "Size": "size",
    "Model hash": "model_hash",
    "Model": "model",
    "Version": "version",
}
# JSON keys generators use, folded to one evidence name (keys compared lower-case, "_" for " ").
_JSON_KEYS = {
    "steps": "steps",
    "seed": "seed",
    "sampler": "sampler",
    "sampler_name": "sampler",
    "scheduler": "scheduler",
    "cfg_scale": "cfg_scale",
    "guidance_scale": "cfg_scale",
    "scale": "cfg_scale",
    "model": "model",
    "model_name": "model",
    "model_weights": "model",
    "base_model": "model",
    "width": "width",
    "height": "height",
    "app_version": "version",
    "version": "version",
    "prompt": "prompt",
    "positive_prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "uc": "negative_prompt",
}
_SETTING_NAMES = frozenset({"steps", "seed", "sampler", "scheduler", "cfg_scale"})
_MODEL_KEYS = frozenset({"ckpt_name", "unet_name", "lora_name", "vae_name", "model_name"})
_MODEL_FILE = re.compile(r"\.(safetensors|ckpt|pt|pth|gguf|sft|bin)$", re.IGNORECASE)
_DREAM_FLAG = re.compile(r"\s-([sSWHCA])\s*(\S+)")
_DREAM_KEYS = {"s": "steps", "S": "seed", "W": "width", "H": "height", "C": "cfg_scale"}
_INVOKE_KEYWORDS = ("invokeai_metadata", "invokeai_graph", "sd-metadata", "dream")


@dataclass(frozen=True)
class GeneratorSettings:
    """One generator's settings found in the file. ``recognised`` means they are in that
    generator's own layout; otherwise only the name of the field points to it."""

    tool: str
    source: str  # where it was found, in words
    examined: str
    recognised: bool
    evidence: dict[str, Any]
    notes: tuple[str, ...] = field(default=())


def find_settings(meta: Metadata) -> list[GeneratorSettings]:
    """Every generator's settings that ``meta`` holds."""
    text = {entry.keyword.lower(): entry for entry in meta.text}
    found = [_png_parameters(text["parameters"])] if "parameters" in text else []
    if "prompt" in text or "workflow" in text:
        found.append(_comfyui(text.get("prompt"), text.get("workflow")))
    if any(key in text for key in _INVOKE_KEYWORDS):
        found.append(_invokeai([text[key] for key in _INVOKE_KEYWORDS if key in text]))
    if "comment" in text:
        found.extend(_novelai(text))
    if meta.exif is not None:
        for name, value in (
            ("UserComment", meta.exif.user_comment),
            ("ImageDescription", meta.exif.description),
        ):
            found.extend(_exif_text(name, value))
    return found


# --- AUTOMATIC1111 / Forge, Fooocus ----------------------------------------------------


def parse_a1111(text: str) -> dict[str, Any] | None:
    """The settings line, prompt and negative prompt of A1111's "parameters" text, or None
    when the text is not in that layout."""
    lines = text[:MAX_JSON_CHARS].strip().split("\n")
    at = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith("Steps: ")), None)
    if at is None:
        return None
    pairs = {
        m.group(1).strip(): m.group(2).strip()
        for m in _A1111_PAIR.finditer(lines[at][:SETTINGS_LINE_CHARS])
    }
    evidence: dict[str, Any] = {
        name: clean(pairs[key].strip('"'), 200) for key, name in _A1111_KEYS.items() if key in pairs
    }
    if not _SETTING_NAMES.intersection(evidence).difference({"steps"}):
        return None  # "Steps:" alone is too little to call it A1111's layout
    others = [key for key in pairs if key not in _A1111_KEYS]
    if others:
        evidence["other_settings"] = [clean(key, 60) for key in others[:MAX_LISTED]]
    prompt, negative = "\n".join(lines[:at]), ""
    if "Negative prompt:" in prompt:
        prompt, _, negative = prompt.partition("Negative prompt:")
    evidence.update(_bounded("prompt", prompt))
    evidence.update(_bounded("negative_prompt", negative))
    return evidence


def _png_parameters(entry: TextEntry) -> GeneratorSettings:
    source = "PNG text chunk 'parameters'"
    if entry.text is None:
        return _unread("AUTOMATIC1111 / Forge", source, entry)
    evidence = parse_a1111(entry.text)
    if evidence is not None:
        return GeneratorSettings("AUTOMATIC1111 / Forge", source, "PNG text chunks", True, evidence)
    document, _ = load_json(entry.text)
    if isinstance(document, Mapping):
        settings = pick_settings(document)
        if _SETTING_NAMES.intersection(settings):
            return GeneratorSettings("Fooocus", source, "PNG text chunks", True, settings)
    note = "its text is not in the layout the AUTOMATIC1111 web UI writes"
    return GeneratorSettings("AUTOMATIC1111 / Forge", source, "PNG text chunks", False, {}, (note,))


def _exif_text(name: str, value: str | None) -> list[GeneratorSettings]:
    """Settings in an EXIF text field; a generic field, so only a recognised layout counts."""
    if not value:
        return []
    source = f"EXIF {name}"
    evidence = parse_a1111(value)
    if evidence is not None:
        return [GeneratorSettings("AUTOMATIC1111 / Forge", source, "EXIF", True, evidence)]
    document, _ = load_json(value)
    if isinstance(document, Mapping):
        settings = pick_settings(document)
        if len(_SETTING_NAMES.intersection(settings)) >= 2:
            return [GeneratorSettings("an image generator", source, "EXIF", True, settings)]
    return []


# --- ComfyUI ---------------------------------------------------------------------------


def _comfyui(prompt: TextEntry | None, workflow: TextEntry | None) -> GeneratorSettings:
    chunks = [entry.keyword for entry in (prompt, workflow) if entry is not None]
    evidence: dict[str, Any] = {"chunks": chunks}
    notes: list[str] = []
    node_types: set[str] = set()
    recognised = False
    for entry in (prompt, workflow):
        if entry is None:
            continue
        if entry.text is None:
            notes.append(f"the '{entry.keyword}' chunk was not read: {entry.note}")
            continue
        document, problem = load_json(entry.text)
        if problem:
            notes.append(f"the '{entry.keyword}' chunk is {problem}")
            continue
        types = _comfy_node_types(document)
        if not types:
            notes.append(f"the '{entry.keyword}' chunk is JSON but not in ComfyUI's layout")
            continue
        recognised = True
        node_types.update(types)
        _comfy_models_and_seed(document, evidence)
    if node_types:
        evidence["node_types"] = sorted(node_types)[:MAX_LISTED]
        evidence["node_type_count"] = len(node_types)
    source = " and ".join(f"'{name}'" for name in chunks)
    source = f"PNG text chunk{'s' if len(chunks) > 1 else ''} {source}"
    return GeneratorSettings(
        "ComfyUI", source, "PNG text chunks", recognised, evidence, tuple(notes)
    )


def _comfy_node_types(document: object) -> set[str]:
    types: set[str] = set()
    if isinstance(document, Mapping) and isinstance(document.get("nodes"), list):
        nodes: list[Any] = document["nodes"][:MAX_WALK_ITEMS]  # a workflow
        types.update(n["type"] for n in nodes if isinstance(n, Mapping) and _is_str(n.get("type")))
    elif isinstance(document, Mapping):  # an API prompt: node id -> node
        for node in list(document.values())[:MAX_WALK_ITEMS]:
            if isinstance(node, Mapping) and _is_str(node.get("class_type")):
                types.add(node["class_type"])
    return {name for name in (clean(t, 80) for t in types) if name}


def _comfy_models_and_seed(document: object, evidence: dict[str, Any]) -> None:
    models: list[str] = evidence.setdefault("models", [])
    for key, value in _walk(document):
        if isinstance(value, str) and (key in _MODEL_KEYS or _MODEL_FILE.search(value)):
            name = clean(value, 200)
            if name and name not in models and len(models) < 10:
                models.append(name)
        elif key in ("seed", "noise_seed") and "seed" not in evidence:
            seed = _scalar(value)
            if seed is not None:
                evidence["seed"] = seed
    if not models:
        del evidence["models"]


# --- InvokeAI, NovelAI -----------------------------------------------------------------


def _invokeai(entries: list[TextEntry]) -> GeneratorSettings:
    evidence: dict[str, Any] = {"chunks": [entry.keyword for entry in entries]}
    notes: list[str] = []
    recognised = False
    for entry in entries:
        if entry.text is None:
            notes.append(f"the '{entry.keyword}' chunk was not read: {entry.note}")
        elif entry.keyword.lower() == "dream":
            recognised = True
            for key, value in _dream(entry.text).items():
                evidence.setdefault(key, value)
        else:
            document, problem = load_json(entry.text)
            if not isinstance(document, Mapping):
                notes.append(f"the '{entry.keyword}' chunk is {problem or 'not a JSON object'}")
                continue
            recognised = True
            for key, value in pick_settings(document).items():
                evidence.setdefault(key, value)
    source = "PNG text chunks " + ", ".join(f"'{name}'" for name in evidence["chunks"])
    return GeneratorSettings(
        "InvokeAI", source, "PNG text chunks", recognised, evidence, tuple(notes)
    )


def _dream(text: str) -> dict[str, Any]:
    """InvokeAI's early "Dream" line: "the prompt" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms."""
    text = text[:MAX_JSON_CHARS]
    evidence: dict[str, Any] = {}
    for match in list(_DREAM_FLAG.finditer(text))[:MAX_LISTED]:
        name = _DREAM_KEYS.get(match.group(1), "sampler")
        evidence.setdefault(name, clean(match.group(2), 100))
    prompt = text.split(" -", 1)[0].strip().strip('"')
    evidence.update(_bounded("prompt", prompt))
    return evidence


def _novelai(text: Mapping[str, TextEntry]) -> list[GeneratorSettings]:
    """NovelAI writes Software "NovelAI" and its settings as JSON in a "Comment" chunk."""
    comment = text["comment"]
    document, _ = load_json(comment.text or "")
    if not isinstance(document, Mapping):
        return []
    settings = pick_settings(document)
    if len(_SETTING_NAMES.intersection(settings)) < 2:
        return []
    named = " ".join(text[k].text or "" for k in ("software", "source") if k in text)
    tool = "NovelAI" if "novelai" in named.lower().replace(" ", "") else "an image generator"
    if "prompt" not in settings and "description" in text:
        settings.update(_bounded("prompt", text["description"].text or ""))
    return [GeneratorSettings(tool, "PNG text chunk 'Comment'", "PNG text chunks", True, settings)]


# --- bounded JSON ----------------------------------------------------------------------


def load_json(text: str) -> tuple[object, str | None]:
    """Parse ``text`` as JSON within bounds: (document, None) or (None, what was wrong)."""
    if len(text) > MAX_JSON_CHARS:
        return None, "too large to parse"
    try:
        return json.loads(text), None
    except RecursionError:
        return None, "nested too deeply to parse"
    except ValueError:
        return None, "not valid JSON"


def pick_settings(document: Mapping[str, Any]) -> dict[str, Any]:
    """The first value of each known setting, searched breadth-first near the top."""
    found: dict[str, Any] = {}
    level: list[Mapping[str, Any]] = [document]
    seen = 0
    for _ in range(4):
        below: list[Mapping[str, Any]] = []
        for mapping in level:
            for key, value in list(mapping.items())[:500]:
                seen += 1
                name = _JSON_KEYS.get(str(key).lower().replace(" ", "_"))
                if name and name not in found:
                    _put(found, name, value)
                if isinstance(value, Mapping):
                    below.append(value)
            if seen > MAX_WALK_ITEMS:
                return found
        level = below
    return found


def _put(found: dict[str, Any], name: str, value: object) -> None:
    if name in ("prompt", "negative_prompt"):
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            value = value[0].get("prompt")  # InvokeAI 2: [{"prompt": ..., "weight": ...}]
        if isinstance(value, str):
            found.update(_bounded(name, value))
        return
    if isinstance(value, Mapping):  # InvokeAI 3+: "model": {"name": ..., "base": ...}
        value = value.get("name") or value.get("model_name")
    scalar = _scalar(value)
    if scalar is not None:
        found[name] = scalar


def _walk(document: object) -> Iterator[tuple[str, object]]:
    """(key, value) pairs of a JSON document, bounded in depth and count."""
    stack: list[tuple[str, object, int]] = [("", document, 0)]
    for _ in range(MAX_WALK_ITEMS):
        if not stack:
            return
        key, value, depth = stack.pop()
        yield key, value
        if depth >= MAX_WALK_DEPTH:
            continue
        if isinstance(value, Mapping):
            stack.extend((str(k), v, depth + 1) for k, v in list(value.items())[:1000])
        elif isinstance(value, list):
            stack.extend((key, v, depth + 1) for v in value[:1000])


def _scalar(value: object) -> str | int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) < 1 << 64 else str(value)[:40]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return clean(value, 200)


def _bounded(name: str, text: str) -> dict[str, Any]:
    """``text`` cut to PROMPT_CHARS, with its full length when it was cut."""
    full = text.strip()
    # Printable only: a hostile prompt could carry terminal escape sequences.
    text = "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in full[:PROMPT_CHARS])
    if not text:
        return {}
    if len(full) <= PROMPT_CHARS:
        return {name: text}
    return {name: text + "…", f"{name}_length": len(full)}


def _is_str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _unread(tool: str, source: str, entry: TextEntry) -> GeneratorSettings:
    note = f"the chunk was not read: {entry.note}"
    return GeneratorSettings(tool, source, "PNG text chunks", False, {}, (note,))
