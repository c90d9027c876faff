"""Generator metadata: each trace a generator, editor or camera writes gives its own finding,
with the strength and direction it deserves, and a plain file says nothing was found."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from leakshield.forensics import AnalysisContext, Direction, Finding, Strength, load_subject
from leakshield.forensics._analyzers.metadata import generator_metadata
from leakshield.media import MediaLimits

A1111 = (
    "a portrait, studio light\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 1234567, Size: 512x768, "
    'Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora hashes: "a: 1, b: 2", Version: v1.9.4'
)


def png(**text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (40, 90, 160)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def saved(fmt: str, *, exif: Image.Exif | None = None, xmp: str | None = None) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {}
    if exif is not None:
        options["exif"] = exif
    if xmp is not None:
        options["xmp"] = xmp.encode("utf-8")
    Image.new("RGB", (24, 16), (40, 90, 160)).save(out, fmt, **options)
    return out.getvalue()


def findings(tmp_path: Path, data: bytes, name: str = "suspect.png") -> list[Finding]:
    path = tmp_path / name
    path.write_bytes(data)
    result = generator_metadata(load_subject(path, MediaLimits()), AnalysisContext())
    for finding in result:
        json.dumps(finding.to_record())  # evidence is always JSON
    return result


def only(found: list[Finding]) -> Finding:
    assert len(found) == 1, [f.summary for f in found]
    return found[0]


def xmp_packet(body: str) -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
        f"{body}</rdf:RDF></x:xmpmeta>"
    )


def test_a1111_parameters_chunk_is_strong_with_its_settings(tmp_path: Path) -> None:
    finding = only(findings(tmp_path, png(parameters=A1111)))
    assert (finding.strength, finding.direction) == (Strength.STRONG, Direction.AI_GENERATED)
    assert finding.examined == "PNG text chunks"
    assert "AUTOMATIC1111" in finding.summary
    assert {k: finding.evidence[k] for k in ("steps", "sampler", "cfg_scale", "seed")} == {
        "steps": "30",
        "sampler": "DPM++ 2M Karras",
        "cfg_scale": "6.5",
        "seed": "1234567",
    }
    assert finding.evidence["size"] == "512x768"
    assert finding.evidence["model_hash"] == "6ce0161689"
    assert finding.evidence["model"] == "v1-5-pruned-emaonly"
    assert finding.evidence["prompt"] == "a portrait, studio light"
    assert finding.evidence["negative_prompt"] == "blurry, lowres"
    assert "absence proves nothing" in finding.explanation


def test_long_prompt_is_kept_but_cut(tmp_path: Path) -> None:
    text = "word " * 400 + "\nSteps: 20, Sampler: Euler a, Seed: 1"
    finding = only(findings(tmp_path, png(parameters=text)))
    assert len(finding.evidence["prompt"]) <= 301
    assert finding.evidence["prompt_length"] == len(("word " * 400).strip())


@pytest.mark.parametrize(
    ("fmt", "comment"),
    [
        ("JPEG", b"UNICODE\x00" + A1111.encode("utf-16-be")),  # what A1111 writes (piexif)
        ("WEBP", b"UNICODE\x00" + A1111.encode("utf-16-le")),
        ("JPEG", b"ASCII\x00\x00\x00" + A1111.encode("ascii")),
    ],
)
def test_a1111_settings_in_exif_user_comment(tmp_path: Path, fmt: str, comment: bytes) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = comment
    finding = only(findings(tmp_path, saved(fmt, exif=exif), f"suspect.{fmt.lower()}"))
    assert (finding.strength, finding.direction) == (Strength.STRONG, Direction.AI_GENERATED)
    assert finding.examined == "EXIF"
    assert finding.evidence["found_in"] == "EXIF UserComment"
    assert finding.evidence["seed"] == "1234567"


def test_comfyui_prompt_and_workflow(tmp_path: Path) -> None:
    prompt = {
        "3": {"class_type": "KSampler", "inputs": {"seed": 8675309, "steps": 20}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl_base"}},
        "8": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors"}},
    }
    workflow = {"nodes": [{"type": "KSampler"}, {"type": "SaveImage", "widgets_values": ["x"]}]}
    data = png(prompt=json.dumps(prompt), workflow=json.dumps(workflow))
    finding = only(findings(tmp_path, data))
    assert (finding.strength, finding.direction) == (Strength.STRONG, Direction.AI_GENERATED)
    assert finding.evidence["generator"] == "ComfyUI"
    assert finding.evidence["node_types"] == [
        "CheckpointLoaderSimple",
        "KSampler",
        "SaveImage",
        "UNETLoader",
    ]
    assert set(finding.evidence["models"]) == {"sdxl_base", "flux1-dev.safetensors"}
    assert finding.evidence["seed"] == 8675309


def test_comfyui_malformed_json_still_counts_but_less(tmp_path: Path) -> None:
    finding = only(findings(tmp_path, png(workflow='{"nodes": [{"type": "KSampler"')))
    assert (finding.strength, finding.direction) == (Strength.MODERATE, Direction.AI_GENERATED)
    assert finding.evidence["notes"] == ["the 'workflow' chunk is not valid JSON"]


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        (
            "invokeai_metadata",
            json.dumps(
                {
                    "positive_prompt": "a lighthouse",
                    "model": {"name": "juggernaut-xl", "base": "sdxl"},
                    "seed": 42,
                    "steps": 30,
                    "cfg_scale": 7.5,
                    "scheduler": "euler",
                }
            ),
        ),
        (
            "sd-metadata",
            json.dumps(
                {
                    "model_weights": "stable-diffusion-1.5",
                    "app_id": "invoke-ai/InvokeAI",
                    "image": {"prompt": [{"prompt": "a lighthouse", "weight": 1}], "seed": 42},
                }
            ),
        ),
        ("Dream", '"a lighthouse" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms'),
    ],
)
def test_invokeai_chunks(tmp_path: Path, keyword: str, text: str) -> None:
    finding = only(findings(tmp_path, png(**{keyword: text})))
    assert (finding.strength, finding.direction) == (Strength.STRONG, Direction.AI_GENERATED)
    assert finding.evidence["generator"] == "InvokeAI"
    assert finding.evidence["seed"] in (42, "42")
    assert finding.evidence["prompt"] == "a lighthouse"


def test_novelai_software_and_comment(tmp_path: Path) -> None:
    comment = {"prompt": "a fox", "steps": 28, "seed": 99, "sampler": "k_euler", "scale": 5}
    data = png(Software="NovelAI", Source="NovelAI Diffusion V4", Comment=json.dumps(comment))
    finding = only(findings(tmp_path, data))  # one finding: the name adds nothing to settings
    assert (finding.strength, finding.direction) == (Strength.STRONG, Direction.AI_GENERATED)
    assert finding.evidence["generator"] == "NovelAI"
    assert finding.evidence["cfg_scale"] == 5


@pytest.mark.parametrize(
    ("software", "generator"),
    [
        ("Midjourney", "Midjourney"),
        ("DALL·E 3", "DALL·E"),
        ("Adobe Firefly", "Adobe Firefly"),
        ("Fooocus v2.5.0", "Fooocus"),
        ("FLUX.1 [dev]", "FLUX"),
    ],
)
def test_generator_name_in_png_software_is_moderate(
    tmp_path: Path, software: str, generator: str
) -> None:
    finding = only(findings(tmp_path, png(Software=software)))
    assert (finding.strength, finding.direction) == (Strength.MODERATE, Direction.AI_GENERATED)
    assert finding.evidence["generators"] == [generator]
    assert finding.evidence["fields"] == [{"field": "PNG Software", "value": software}]


def test_generator_names_in_exif_software_and_xmp_creator_tool(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0131] = "Stable Diffusion XL"
    xmp = xmp_packet('<rdf:Description xmp:CreatorTool="Ideogram"/>')
    finding = only(findings(tmp_path, saved("JPEG", exif=exif, xmp=xmp), "suspect.jpg"))
    assert finding.strength is Strength.MODERATE
    assert finding.evidence["generators"] == ["Stable Diffusion", "Ideogram"]
    assert finding.examined == "EXIF, XMP"


@pytest.mark.parametrize(
    ("software", "editor"),
    [
        ("Adobe Photoshop 25.0 (Windows)", "Adobe Photoshop"),
        ("Adobe Photoshop Lightroom Classic 13.1", "Adobe Lightroom"),
        ("GIMP 2.10.36", "GIMP"),
        ("Snapseed 2.0", "Snapseed"),
    ],
)
def test_editor_name_is_weak_and_says_nothing_about_changes(
    tmp_path: Path, software: str, editor: str
) -> None:
    exif = Image.Exif()
    exif[0x0131] = software
    finding = only(findings(tmp_path, saved("JPEG", exif=exif), "suspect.jpg"))
    assert (finding.strength, finding.direction) == (Strength.WEAK, Direction.EDITED)
    assert finding.evidence["editors"] == [editor]
    assert "says nothing about what" in finding.explanation


@pytest.mark.parametrize(
    "software",
    ["Visor de imagen", "matplotlib version3.8.0", "Dallas Camera Tool", "Flux Capacitor2"],
)
def test_other_software_names_are_not_traces(tmp_path: Path, software: str) -> None:
    finding = only(findings(tmp_path, png(Software=software)))
    assert finding.strength is Strength.NONE


def test_plain_image_gives_one_none_finding(tmp_path: Path) -> None:
    finding = only(findings(tmp_path, png()))
    assert (finding.strength, finding.direction) == (Strength.NONE, Direction.INFORMATIONAL)
    assert finding.examined == "PNG text chunks, EXIF, XMP"
    assert "absence says nothing" in finding.explanation
    assert "authentic" not in finding.summary + finding.explanation


def test_plain_jpeg_looked_in_exif_and_xmp(tmp_path: Path) -> None:
    finding = only(findings(tmp_path, saved("JPEG"), "suspect.jpg"))
    assert finding.strength is Strength.NONE
    assert finding.evidence["looked_in"] == ["EXIF", "XMP"]
