"""The API under test: an app with its matcher loaded (lifespan run), over a fresh
database on each backend, with one API key per role; and benign sample images."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from leakshield.apikeys import ROLES, ApiKeys
from leakshield.config import Settings, load_settings
from leakshield.server import create_app
from leakshield.store import Database

PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5_A = "d41d8cd98f00b204e9800998ecf8427e"


def flip_bits(hex_hash: str, bits: int) -> str:
    """``hex_hash`` with its first ``bits`` bits flipped: that Hamming distance away."""
    value = int(hex_hash, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{value:064x}"


def image_bytes(name: str = "camera", fmt: str = "PNG", *, rotate: int = 0) -> bytes:
    """A scikit-image sample picture encoded as ``fmt`` (benign test data)."""
    import skimage.data

    pixels = np.asarray(getattr(skimage.data, name)())
    picture = Image.fromarray(pixels)
    if rotate:
        picture = picture.rotate(rotate, expand=True)
    out = io.BytesIO()
    picture.save(out, format=fmt)
    return out.getvalue()


@dataclass
class Api:
    """One running app: its client (admin key by default), keys by role, settings."""

    client: TestClient
    app: FastAPI
    database: Database
    settings: Settings
    keys: dict[str, str]

    def as_role(self, role: str | None) -> dict[str, str]:
        """Headers that authenticate as ``role`` (None: no credentials at all)."""
        if role is None:
            return {"Authorization": ""}
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def bank(self, name: str = "PHOTOS", **fields: Any) -> dict[str, Any]:
        """Create a bank; its record."""
        response = self.client.post("/api/v1/banks", json={"name": name, **fields})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def add(self, bank: str, *signals: str, **fields: Any) -> dict[str, Any]:
        """Add one content item holding ``signals``; its record."""
        body = {"signals": list(signals), **fields}
        response = self.client.post(f"/api/v1/banks/{bank}/content", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def lookup(self, signal: str, **params: Any) -> list[dict[str, Any]]:
        """The matches of one signal."""
        response = self.client.get("/api/v1/lookup", params={"signal": signal, **params})
        assert response.status_code == 200, response.text
        return list(response.json()["matches"])


@pytest.fixture
def make_api(database_url: str) -> Iterator[Callable[..., Api]]:
    """Start apps over this test's database; each one loads its own matcher."""
    started: list[tuple[TestClient, Database]] = []

    def start(*, auth: bool = True, **settings: Any) -> Api:
        database = Database(database_url)
        database.upgrade()
        keys = {role: ApiKeys(database).create(role, f"test {role}")[1] for role in ROLES}
        loaded = load_settings(**settings).settings
        app = create_app(loaded, database, auth=auth)
        headers = {"Authorization": f"Bearer {keys['admin']}"}
        client = TestClient(app, raise_server_exceptions=False, headers=headers)
        client.__enter__()
        started.append((client, database))
        return Api(client, app, database, loaded, keys)

    yield start
    for client, database in reversed(started):
        client.__exit__(None, None, None)
        database.dispose()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """One app with its matcher loaded, on SQLite and on PostgreSQL."""
    return make_api()


def eventually(check: Callable[[], bool], within: float = 1.0) -> float:
    """Poll ``check`` until it holds; returns the seconds it took (fails after ``within``)."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > within:
            pytest.fail(f"not true within {within} s")
        time.sleep(0.01)


Route = tuple[int, dict[str, str], bytes]


@contextlib.contextmanager
def local_site(routes: Callable[[int], dict[str, Route]]) -> Iterator[str]:
    """A tiny web site on 127.0.0.1 serving ``routes(port)`` (path: status, headers, body;
    others 404); yields its base URL."""

    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            table = routes(self.server.server_address[1])
            status, headers, body = table.get(self.path, (404, {}, b"missing"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
