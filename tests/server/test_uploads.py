"""Uploads are bounded and leave nothing behind; URLs are fetched only from allowed hosts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leakshield.server._uploads import host_allowed
from tests.server.conftest import Api, Route, image_bytes, local_site

LIMIT = 200_000
CAMERA = image_bytes("camera", "JPEG")


def _routes(port: int) -> dict[str, Route]:
    """A picture, redirects, a big file; anything else is a 404."""
    return {
        "/camera.jpg": (200, {"Content-Type": "image/jpeg"}, CAMERA),
        "/hop": (302, {"Location": "/camera.jpg"}, b""),
        "/hop-absolute": (302, {"Location": f"http://127.0.0.1:{port}/camera.jpg"}, b""),
        "/away": (302, {"Location": "http://elsewhere.example/camera.jpg"}, b""),
        "/to-localhost": (302, {"Location": f"http://localhost:{port}/camera.jpg"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/big": (200, {"Content-Type": "image/jpeg"}, b"\xff" * (LIMIT + 1)),
    }


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with local_site(_routes) as base:
        yield base


@pytest.fixture
def limited(make_api: Callable[..., Api]) -> Api:
    return make_api(max_upload_bytes=LIMIT, fetch_allowed_hosts=["127.0.0.1"])


def _tmp_files(api: Api) -> list[Path]:
    return sorted((api.settings.data_dir / "tmp").iterdir())


# Size limit


def test_a_body_over_the_limit_is_refused_by_its_length(limited: Api) -> None:
    response = limited.client.post("/api/v1/banks/X/import", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:leakshield:problem:upload-too-large"
    assert f"{LIMIT:,}" in problem["detail"]


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/banks/PHOTOS/import", "text/csv"),
        ("/api/v1/lookup", "multipart/form-data; boundary=b"),
        ("/h/hash", "multipart/form-data; boundary=b"),
        ("/api/v1/lookup/bulk", "application/json"),
    ],
)
def test_a_chunked_body_over_the_limit_is_refused_as_it_streams(
    limited: Api, path: str, content_type: str
) -> None:
    limited.bank()

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for _ in range(LIMIT // 10_000 + 2):
            yield b"y" * 10_000

    response = limited.client.post(path, content=chunks(), headers={"Content-Type": content_type})
    assert response.status_code == 413
    assert response.json()["type"] == "urn:leakshield:problem:upload-too-large"


def test_a_multipart_upload_over_the_limit_is_refused(limited: Api) -> None:
    big = {"file": ("big.png", b"\x89PNG" + b"0" * LIMIT, "image/png")}
    response = limited.client.post("/api/v1/lookup", files=big)
    assert response.status_code == 413


def test_a_body_within_the_limit_is_accepted(limited: Api) -> None:
    limited.bank()
    body = b"signal_type,signal\n" + b"md5,d41d8cd98f00b204e9800998ecf8427e\n"
    response = limited.client.post("/api/v1/banks/PHOTOS/import", content=body)
    assert response.status_code == 200


def test_nothing_is_left_in_the_data_directory_after_uploads(limited: Api) -> None:
    limited.bank()
    photo = {"file": ("c.jpg", CAMERA, "image/jpeg")}
    assert limited.client.post("/api/v1/lookup", files=photo).status_code == 200
    assert limited.client.post("/api/v1/banks/PHOTOS/content", files=photo).status_code == 201
    assert limited.client.post("/h/hash", files={"photo": photo["file"]}).status_code == 200
    broken = {"file": ("b.jpg", b"\xff\xd8 not really a jpeg", "image/jpeg")}
    assert limited.client.post("/api/v1/lookup", files=broken).status_code == 422
    big = {"file": ("big.jpg", b"0" * (LIMIT + 1), "image/jpeg")}
    assert limited.client.post("/api/v1/lookup", files=big).status_code == 413
    import_body = b"md5,d41d8cd98f00b204e9800998ecf8427e\n"
    assert limited.client.post("/api/v1/banks/PHOTOS/import", content=import_body).is_success
    tmp = limited.settings.data_dir / "tmp"
    assert tmp.stat().st_mode & 0o777 == 0o700
    assert _tmp_files(limited) == []


# Fetching URLs


def test_no_url_is_fetched_without_an_allow_list(api: Api, site: str) -> None:
    url = f"{site}/camera.jpg"
    response = api.client.post("/api/v1/lookup", data={"url": url})
    assert response.status_code == 403
    assert response.json()["type"] == "urn:leakshield:problem:url-not-allowed"
    assert api.client.get("/h/hash", params={"url": url}).status_code == 403
    assert api.client.get("/m/lookup", params={"url": url}).status_code == 403


@pytest.mark.parametrize("path", ["/camera.jpg", "/hop", "/hop-absolute"])
def test_an_allowed_url_is_fetched_and_hashed(limited: Api, site: str, path: str) -> None:
    response = limited.client.post("/api/v1/lookup", data={"url": site + path})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["input"] == site + path
    assert body["media_type"] == "image"
    assert [s.split(":")[0] for s in body["signals"]] == ["pdq", "md5"]
    assert _tmp_files(limited) == []


@pytest.mark.parametrize(
    ("url", "status", "problem"),
    [
        ("{site}/away", 403, "url-not-allowed"),
        ("{site}/to-localhost", 403, "url-not-allowed"),
        ("{site}/loop", 502, "fetch-failed"),
        ("{site}/missing", 502, "fetch-failed"),
        ("{site}/big", 413, "upload-too-large"),
        ("file:///etc/passwd", 403, "url-not-allowed"),
        ("ftp://127.0.0.1/camera.jpg", 403, "url-not-allowed"),
        ("http://127.0.0.1@elsewhere.example/camera.jpg", 403, "url-not-allowed"),
        ("http://[::1]/camera.jpg", 403, "url-not-allowed"),
    ],
)
def test_a_refused_or_failed_fetch_is_a_problem(
    limited: Api, site: str, url: str, status: int, problem: str
) -> None:
    response = limited.client.post("/api/v1/lookup", data={"url": url.format(site=site)})
    assert response.status_code == status, response.text
    assert response.json()["type"] == f"urn:leakshield:problem:{problem}"
    assert _tmp_files(limited) == []


@pytest.mark.parametrize(
    ("host", "patterns", "allowed"),
    [
        ("media.example.com", ["media.example.com"], True),
        ("MEDIA.Example.com.", ["media.example.com"], True),
        ("a.example.com", ["*.example.com"], True),
        ("a.b.example.com", ["*.example.com"], True),
        ("example.com", ["*.example.com"], False),
        ("evilexample.com", ["*.example.com"], False),
        ("example.com.evil.net", ["example.com"], False),
        ("127.0.0.1", [], False),
        ("127.0.0.1", ["127.0.0.1"], True),
    ],
)
def test_host_allowed(host: str, patterns: list[str], allowed: bool) -> None:
    assert host_allowed(host, patterns) is allowed
