"""The HMA-compatible routes: the examples in docs/hma.md are sent again, in order, on
SQLite and PostgreSQL, and must get the responses written there; then what the examples
cannot show (URLs, videos' types, errors' shape, the two route families agreeing)."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.routing import iter_route_contexts
from PIL import Image

from tests.server.conftest import MD5_A, PDQ_A, Api, image_bytes, local_site

DOC = Path(__file__).parents[2] / "docs" / "hma.md"
_BLOCKS = re.compile(r"```http\n(.*?)```", re.S)
_FILES = {"camera.png": lambda: image_bytes("camera")}
CAMERA_PDQ = "dc9c9d3b746978f888f40ce6e5c3f70f7266623e8d989cb99f21f2010841e1c7"


@dataclass(frozen=True)
class Example:
    """One request of docs/hma.md and the response written under it."""

    method: str
    target: str
    headers: dict[str, str]
    body: str
    status: int
    expected: Any

    def send(self, api: Api) -> Any:
        """Send the request; the response."""
        if self.headers.get("Content-Type", "").startswith("multipart/form-data"):
            files, data = {}, {}
            for line in self.body.splitlines():
                name, _, value = line.partition("=")
                if value.startswith("@"):
                    files[name] = (value[1:], _FILES[value[1:]](), "application/octet-stream")
                else:
                    data[name] = value
            return api.client.request(self.method, self.target, files=files, data=data)
        content = self.body.encode() if self.body.strip() else None
        return api.client.request(self.method, self.target, content=content, headers=self.headers)


def _split(block: str) -> tuple[str, dict[str, str], str]:
    head, _, body = block.partition("\n\n")
    first, *header_lines = head.strip().splitlines()
    headers = dict(line.split(": ", 1) for line in header_lines)
    return first, headers, body


def doc_examples() -> list[Example]:
    """The request/response pairs of docs/hma.md, in order."""
    blocks = _BLOCKS.findall(DOC.read_text())
    assert len(blocks) % 2 == 0, "every request in docs/hma.md needs its response"
    examples = []
    for request, response in zip(blocks[::2], blocks[1::2], strict=True):
        first, headers, body = _split(request)
        method, target = first.split(" ", 1)
        status_line, _, expected = _split(response)
        examples.append(
            Example(
                method, target, headers, body, int(status_line.split()[1]), json.loads(expected)
            )
        )
    return examples


def _comparable(actual: Any, example: Example) -> Any:
    if example.status >= 400:  # errors: the fields shown, among all the problem's fields
        return {key: actual.get(key) for key in example.expected}
    if example.target.startswith("/m/index/status"):  # built_to is a time
        return {k: {**v, "built_to": 1700000000} for k, v in actual.items()}
    return actual


def test_the_examples_in_the_hma_docs_hold(api: Api) -> None:
    examples = doc_examples()
    assert len(examples) >= 25
    for number, example in enumerate(examples, 1):
        response = example.send(api)
        where = f"example {number}: {example.method} {example.target}"
        assert response.status_code == example.status, f"{where}: {response.text}"
        assert _comparable(response.json(), example) == example.expected, where


def test_the_doc_examples_cover_every_hma_route(api: Api) -> None:
    routes = {
        (method, route.path)
        for route in iter_route_contexts(api.app.routes)
        if route.methods and str(route.path).startswith(("/h/", "/m/", "/c/"))
        for method in route.methods
    }
    covered = set()
    for example in doc_examples():
        path = urlsplit(example.target).path
        for method, template in routes:
            pattern = re.sub(r"\{[a-z_]+\}", "[^/]+", template)
            if method == example.method and re.fullmatch(pattern, path):
                covered.add((method, template))
    missing = routes - covered - {("GET", "/h/hash")}  # by URL: tested below, not from docs
    assert not missing, f"docs/hma.md has no example of {sorted(missing)}"


# What the doc examples do not show


def test_errors_carry_hma_message_and_status(api: Api) -> None:
    response = api.client.post("/c/banks", json={"name": "lower_case"})
    assert response.status_code == 400  # the native API says 422
    body = response.json()
    assert body["message"] == body["detail"]
    assert body["type"] == "urn:leakshield:problem:bad-bank-input"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "Missing multipart/form-data file upload"),
        ({"image": ("a.png", b"x", "image/png")}, "no such content_type: 'image'"),
        (
            {"photo": ("a.png", b"x", "image/png"), "video": ("b.mp4", b"y", "video/mp4")},
            "Only one file allowed per request",
        ),
    ],
)
def test_a_bad_hma_upload_is_a_400(api: Api, files: dict[str, Any], message: str) -> None:
    response = api.client.post("/h/hash", files=files or {"note": (None, "x")})
    assert response.status_code == 400
    assert response.json()["message"] == message


@pytest.mark.parametrize(
    ("types", "status", "expected"),
    [("pdq", 200, {"pdq": CAMERA_PDQ}), ("video_md5", 400, None), ("", 400, None)],
)
def test_hash_types_choose_the_signal_types(
    api: Api, types: str, status: int, expected: dict[str, str] | None
) -> None:
    files = {"photo": ("camera.png", image_bytes("camera"), "image/png")}
    response = api.client.post("/h/hash", files=files, params={"types": types})
    assert response.status_code == status
    if expected is not None:
        assert response.json() == expected


def test_a_photo_sent_as_a_video_is_refused(api: Api) -> None:
    files = {"photo": ("camera.png", image_bytes("camera"), "image/png")}
    response = api.client.get("/h/hash")
    assert response.status_code == 400 and response.json()["message"] == "url is required"
    mismatched = {"video": files["photo"]}
    assert api.client.post("/h/hash", files=mismatched).status_code == 400


def _flat_png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (128, 128), 128).save(out, format="PNG")
    return out.getvalue()


def test_a_flat_image_is_hashed_but_not_banked_or_matched(api: Api) -> None:
    api.client.post("/c/banks", json={"name": "B"})
    flat = {"photo": ("flat.png", _flat_png(), "image/png")}
    hashed = api.client.post("/h/hash", files=flat).json()
    assert set(hashed) == {"pdq"}
    assert api.client.post("/c/bank/B/signal", json=hashed).is_success  # banked as a signal
    params = {"signal_type": "pdq", "signal": hashed["pdq"]}
    assert list(api.client.get("/m/lookup", params=params).json()) == ["B"]
    assert api.client.post("/m/lookup", files=flat).json() == {"pdq": {}}  # but not the file
    refused = api.client.post("/c/bank/B/content", files=flat)
    assert refused.status_code == 400
    assert "quality" in refused.json()["message"]


def test_hma_and_native_routes_share_the_banks(api: Api) -> None:
    api.client.post("/c/banks", json={"name": "SHARED"})
    added = api.client.post("/c/bank/SHARED/signal", json={"pdq": PDQ_A}).json()
    native = api.lookup(f"pdq:{PDQ_A}")
    assert [(m["bank"], m["content_id"]) for m in native] == [("SHARED", added["id"])]
    api.add("SHARED", f"md5:{MD5_A}")
    found = api.client.get("/m/lookup", params={"signal_type": "video_md5", "signal": MD5_A})
    assert list(found.json()) == ["SHARED"]


def test_hma_lookup_honours_negative_banks_and_the_banks_filter(api: Api) -> None:
    api.bank("LEAKS")
    api.bank("KNOWN_OK", negative=True)
    api.add("LEAKS", f"pdq:{PDQ_A}")
    params = {"signal_type": "pdq", "signal": PDQ_A}
    assert api.client.post("/c/bank/KNOWN_OK/signal", json={"pdq": PDQ_A}).is_success
    assert list(api.client.get("/m/lookup", params=params).json()) == ["KNOWN_OK"]
    only = api.client.get("/m/lookup", params={**params, "banks": "LEAKS,NO_SUCH"}).json()
    assert list(only) == ["LEAKS"]
    raw = api.client.get("/m/raw_lookup", params={**params, "banks": "LEAKS"}).json()
    assert len(raw["matches"]) == 1


IN_A_MONTH = int(time.time()) + 30 * 86400


@pytest.mark.parametrize(
    ("value", "status", "expected_ts"),
    [
        (1, 200, 1),  # enabled
        (0, 200, 0),  # disabled for good
        (IN_A_MONTH, 200, IN_A_MONTH),
        (-1, 400, None),
        (4_102_444_800, 400, None),  # 2100: over HMA's five-year limit
        ("soon", 400, None),
    ],
)
def test_disable_until_ts_round_trips(
    api: Api, value: object, status: int, expected_ts: int | None
) -> None:
    api.client.post("/c/banks", json={"name": "B"})
    content_id = api.client.post("/c/bank/B/signal", json={"pdq": PDQ_A}).json()["id"]
    url = f"/c/bank/B/content/{content_id}"
    response = api.client.put(url, json={"disable_until_ts": value})
    assert response.status_code == status
    if expected_ts is not None:
        assert response.json()["disable_until_ts"] == expected_ts
        assert api.client.get(url).json()["disable_until_ts"] == expected_ts
        params = {"signal_type": "pdq", "signal": PDQ_A}
        enabled = api.client.get("/m/lookup", params=params).json() != {}
        assert enabled is (expected_ts == 1)


def test_metadata_keys_are_hmas(api: Api) -> None:
    api.client.post("/c/banks", json={"name": "B"})
    files = {"photo": ("camera.png", image_bytes("camera"), "image/png")}
    bad = api.client.post("/c/bank/B/content", files=files, data={"metadata": '{"x": 1}'})
    assert bad.status_code == 400
    assert "unexpected keys: x" in bad.json()["message"]


# URLs


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    picture = image_bytes("camera")
    with local_site(
        lambda _port: {"/camera.png": (200, {"Content-Type": "image/png"}, picture)}
    ) as base:
        yield base + "/camera.png"


def test_urls_are_hashed_looked_up_and_banked_from_allowed_hosts(make_api: Any, site: str) -> None:
    api = make_api(fetch_allowed_hosts=["127.0.0.1"])
    assert api.client.get("/h/hash", params={"url": site}).json() == {"pdq": CAMERA_PDQ}
    api.client.post("/c/banks", json={"name": "B"})
    added = api.client.post(
        "/c/bank/B/content",
        params={"url": site},
        json={"metadata": {"content_uri": site}, "note": "fetched"},
    ).json()
    assert added == {"id": added["id"], "signals": {"pdq": CAMERA_PDQ}}
    found = api.client.get("/m/lookup", params={"url": site}).json()
    assert found == {"pdq": {"B": [{"bank_content_id": added["id"], "distance": "0"}]}}
    only = api.client.get("/m/lookup", params={"url": site, "signal_type": "pdq"}).json()
    assert only == found["pdq"]
    content = api.client.get(
        f"/c/bank/B/content/{added['id']}", params={"include_metadata": "true"}
    ).json()
    assert (content["metadata"], content["note"]) == ({"content_uri": site}, "fetched")


def test_urls_of_other_hosts_are_refused(api: Api, site: str) -> None:
    response = api.client.get("/h/hash", params={"url": site})
    assert response.status_code == 403
    assert response.json()["type"] == "urn:leakshield:problem:url-not-allowed"
    assert "not in fetch_allowed_hosts" in response.json()["message"]
