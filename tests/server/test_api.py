"""The native API, /api/v1, on SQLite and PostgreSQL: this request gives this answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.server.conftest import MD5_A, PDQ_A, Api, eventually, flip_bits, image_bytes

PDQ_B = flip_bits(PDQ_A, 100)

# Banks


def test_a_bank_is_created_read_listed_changed_and_deleted(api: Api) -> None:
    created = api.bank("PHOTOS", description="reviewed", thresholds={"pdq": 20})
    assert created["name"] == "PHOTOS"
    assert created["description"] == "reviewed"
    assert created["enabled"] is True and created["negative"] is False
    assert created["thresholds"] == {"pdq": 20, "vpdq": 31, "md5": 0, "sha256": 0}

    assert api.client.get("/api/v1/banks/PHOTOS").json()["content_count"] == 0
    listed = api.client.get("/api/v1/banks").json()["banks"]
    assert [bank["name"] for bank in listed] == ["PHOTOS"]

    changed = api.client.patch(
        "/api/v1/banks/PHOTOS", json={"name": "REVIEWED", "enabled": False}
    ).json()
    assert (changed["name"], changed["enabled"], changed["thresholds"]["pdq"]) == (
        "REVIEWED",
        False,
        20,
    )

    assert api.client.delete("/api/v1/banks/REVIEWED").status_code == 204
    missing = api.client.get("/api/v1/banks/REVIEWED")
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:leakshield:problem:bank-not-found"


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"name": "lower"}, 422, "bad-bank-input"),
        ({"name": "X", "thresholds": {"pdq": 200}}, 422, "bad-bank-input"),
        ({"name": "X", "thresholds": {"md5": 3}}, 422, "bad-bank-input"),
        ({"name": "X", "thresholds": {"nope": 1}}, 422, "bad-signal"),
        ({"name": "X", "thresholds": {"pdq": "10"}}, 422, "usage-error"),
        ({"name": "X", "colour": "red"}, 422, "usage-error"),
        ({}, 422, "usage-error"),
    ],
)
def test_a_bad_bank_is_refused(api: Api, body: dict[str, Any], status: int, problem: str) -> None:
    response = api.client.post("/api/v1/banks", json=body)
    assert response.status_code == status
    assert response.json()["type"] == f"urn:leakshield:problem:{problem}"


def test_a_bank_name_is_taken_once(api: Api) -> None:
    api.bank("PHOTOS")
    response = api.client.post("/api/v1/banks", json={"name": "PHOTOS"})
    assert response.status_code == 409
    assert response.json()["type"] == "urn:leakshield:problem:bank-exists"


# Content


def test_content_is_added_read_changed_and_deleted(api: Api) -> None:
    api.bank()
    added = api.add(
        "PHOTOS",
        f"pdq:{PDQ_A}",
        {"signal_type": "md5", "signal": MD5_A},
        metadata={"case": 7},
        note="from review",
    )
    assert added["bank"] == "PHOTOS"
    assert added["signals"] == [
        {"signal_type": "pdq", "signal": PDQ_A},
        {"signal_type": "md5", "signal": MD5_A},
    ]
    assert (added["metadata"], added["note"], added["disabled_until"]) == (
        {"case": 7},
        "from review",
        None,
    )
    url = f"/api/v1/banks/PHOTOS/content/{added['id']}"
    assert api.client.get(url).json() == added

    changed = api.client.patch(
        url, json={"note": "checked", "disabled_until": "2999-01-01T00:00:00Z"}
    )
    assert changed.json()["note"] == "checked"
    assert changed.json()["disabled_until"].startswith("2999-01-01")
    assert changed.json()["metadata"] == {"case": 7}
    enabled = api.client.patch(url, json={"disabled_until": None})
    assert enabled.json()["disabled_until"] is None

    assert api.client.delete(url).status_code == 204
    assert api.client.get(url).status_code == 404
    assert api.lookup(f"pdq:{PDQ_A}") == []


def test_content_is_listed_a_page_at_a_time(api: Api) -> None:
    api.bank()
    ids = [api.add("PHOTOS", f"pdq:{flip_bits(PDQ_A, 40 * i)}")["id"] for i in range(1, 6)]
    first = api.client.get("/api/v1/banks/PHOTOS/content", params={"limit": 2}).json()
    assert [c["id"] for c in first["content"]] == ids[:2]
    assert first["next_after"] == ids[1]
    rest = api.client.get(
        "/api/v1/banks/PHOTOS/content", params={"after": first["next_after"], "limit": 10}
    ).json()
    assert [c["id"] for c in rest["content"]] == ids[2:]
    assert rest["next_after"] is None


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"signals": [f"pdq:{PDQ_A}", "pdq:zz"]}, "signals[1]"),
        ({"signals": ["nope:1"]}, "signals[0]"),
        ({"signals": []}, "signals"),
        ({"signals": [f"pdq:{PDQ_A}"], "metadata": [1]}, "metadata"),
        ({"signals": [f"pdq:{PDQ_A}"], "disabled_until": "soon"}, "disabled_until"),
    ],
)
def test_bad_content_is_refused_with_where(api: Api, body: dict[str, Any], needle: str) -> None:
    api.bank()
    response = api.client.post("/api/v1/banks/PHOTOS/content", json=body)
    assert response.status_code == 422
    assert needle in response.text


def test_content_for_a_missing_bank_is_404(api: Api) -> None:
    response = api.client.post("/api/v1/banks/NOPE/content", json={"signals": [f"md5:{MD5_A}"]})
    assert response.status_code == 404


def test_an_uploaded_file_is_hashed_into_content_and_then_matched(api: Api) -> None:
    api.bank()
    response = api.client.post(
        "/api/v1/banks/PHOTOS/content",
        files={"file": ("camera.png", image_bytes("camera"), "image/png")},
        data={"metadata": json.dumps({"source": "upload"}), "note": "n"},
    )
    assert response.status_code == 201, response.text
    content = response.json()
    assert [s["signal_type"] for s in content["signals"]] == ["pdq", "md5"]
    assert (content["metadata"], content["note"]) == ({"source": "upload"}, "n")

    looked = api.client.post(
        "/api/v1/lookup", files={"file": ("same.jpg", image_bytes("camera", "JPEG"), "image/jpeg")}
    ).json()
    assert looked["input"] == "same.jpg"
    assert looked["media_type"] == "image"
    assert [(m["bank"], m["content_id"]) for m in looked["matches"]] == [("PHOTOS", content["id"])]
    assert looked["matches"][0]["distance"] <= 31


@pytest.mark.parametrize(
    ("files", "data", "status"),
    [
        (None, {"note": "no file"}, 422),
        ({"file": ("a.png", image_bytes("camera"), "image/png")}, {"metadata": "{"}, 422),
        ({"file": ("a.txt", b"not an image", "text/plain")}, {}, 422),
    ],
)
def test_a_bad_upload_is_refused(
    api: Api, files: dict[str, Any] | None, data: dict[str, str], status: int
) -> None:
    api.bank()
    response = api.client.post(
        "/api/v1/banks/PHOTOS/content",
        files=files or {"other": ("x", b"x", "text/plain")},
        data=data,
    )
    assert response.status_code == status, response.text


# Signals, import, export


def test_signals_are_added_in_bulk_idempotently_and_removed(api: Api) -> None:
    api.bank()
    signals = [f"pdq:{PDQ_A}", f"pdq:{PDQ_B}", f"md5:{MD5_A}"]
    url = "/api/v1/banks/PHOTOS/signals"
    first = api.client.post(url, json={"signals": signals, "metadata": {"list": "x"}}).json()
    assert first == {"added": 3, "existing": 0, "removed": 0, "skipped": []}
    again = api.client.post(url, json={"signals": signals}).json()
    assert (again["added"], again["existing"]) == (0, 3)
    assert len({m["content_id"] for s in signals for m in api.lookup(s)}) == 3

    removed = api.client.post(url + "/remove", json={"signals": signals[:2]}).json()
    assert removed == {"removed": 2}
    assert api.lookup(signals[0]) == [] and api.lookup(signals[1]) == []
    assert len(api.lookup(signals[2])) == 1


def test_more_than_10000_signals_at_once_is_refused(api: Api) -> None:
    api.bank()
    body = {"signals": [f"md5:{MD5_A}"] * 10_001}
    assert api.client.post("/api/v1/banks/PHOTOS/signals", json=body).status_code == 422


def test_a_hash_list_is_imported_and_exported(api: Api) -> None:
    api.bank()
    csv = f'signal_type,signal,metadata\npdq,{PDQ_A},{{}}\nmd5,{MD5_A},"{{""k"": 1}}"\n'
    report = api.client.post("/api/v1/banks/PHOTOS/import", content=csv.encode()).json()
    assert report == {"added": 2, "existing": 0, "removed": 0, "skipped": []}
    assert len(api.lookup(f"pdq:{PDQ_A}")) == 1

    jsonl = api.client.get("/api/v1/banks/PHOTOS/export", params={"format": "jsonl"})
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    assert lines == [
        {"signal_type": "pdq", "signal": PDQ_A, "metadata": {}},
        {"signal_type": "md5", "signal": MD5_A, "metadata": {"k": 1}},
    ]
    exported = api.client.get("/api/v1/banks/PHOTOS/export", params={"format": "csv"}).text
    assert exported.splitlines()[0] == "signal_type,signal,metadata"
    assert len(exported.splitlines()) == 3


def test_a_large_export_streams_one_csv_header(api: Api) -> None:
    api.bank()
    signals = [f"pdq:{flip_bits(PDQ_A, bits)}" for bits in range(1, 257)]
    many = [f"md5:{i:032x}" for i in range(4500)]
    api.client.post("/api/v1/banks/PHOTOS/signals", json={"signals": signals + many})
    exported = api.client.get("/api/v1/banks/PHOTOS/export", params={"format": "csv"}).text
    lines = exported.splitlines()
    assert lines.count("signal_type,signal,metadata") == 1
    assert len(lines) == 1 + 256 + 4500


def test_stopncii_withdrawals_remove_hashes(api: Api) -> None:
    api.bank()
    record = {"signalType": "ImagePDQ", "hashValue": PDQ_A, "hashStatus": "Active"}
    url = "/api/v1/banks/PHOTOS/import"
    api.client.post(url, content=json.dumps(record).encode(), params={"format": "stopncii"})
    assert len(api.lookup(f"pdq:{PDQ_A}")) == 1
    withdrawn = json.dumps({**record, "hashStatus": "Withdrawn"}).encode()
    report = api.client.post(url, content=withdrawn, params={"format": "stopncii"}).json()
    assert report["removed"] == 1
    assert api.lookup(f"pdq:{PDQ_A}") == []


def test_a_bad_line_fails_the_import_unless_skipped(api: Api) -> None:
    api.bank()
    body = f"pdq,{PDQ_A}\npdq,not-a-hash\n".encode()
    url = "/api/v1/banks/PHOTOS/import"
    failed = api.client.post(url, content=body, params={"format": "threatexchange"})
    assert failed.status_code == 422
    assert failed.json()["type"] == "urn:leakshield:problem:bad-hash-list"
    assert failed.json()["line"] == 2
    assert api.lookup(f"pdq:{PDQ_A}") == []  # all or nothing
    params = {"format": "threatexchange", "skip_invalid": "true"}
    report = api.client.post(url, content=body, params=params).json()
    assert report["added"] == 1
    assert [s["line"] for s in report["skipped"]] == [2]


# Lookups


@pytest.mark.parametrize(
    ("stored_bits", "threshold", "found"),
    [(0, None, True), (5, None, True), (31, None, True), (32, None, False), (12, 10, False)],
)
def test_pdq_lookup_honours_the_bank_threshold(
    api: Api, stored_bits: int, threshold: int | None, found: bool
) -> None:
    api.bank(thresholds={"pdq": threshold} if threshold is not None else {})
    content = api.add("PHOTOS", f"pdq:{flip_bits(PDQ_A, stored_bits)}")
    matches = api.lookup(f"pdq:{PDQ_A}")
    expected = [
        {
            "bank": "PHOTOS",
            "content_id": content["id"],
            "signal_type": "pdq",
            "distance": stored_bits,
        }
    ]
    assert matches == (expected if found else [])


def test_lookup_answers_with_its_input(api: Api) -> None:
    api.bank()
    api.add("PHOTOS", f"md5:{MD5_A}")
    body = api.client.get("/api/v1/lookup", params={"signal": f"md5:{MD5_A}"}).json()
    assert body["input"] == f"md5:{MD5_A}"
    assert [m["distance"] for m in body["matches"]] == [0]


def test_lookup_searches_only_the_banks_named(api: Api) -> None:
    for name in ("A", "B", "C"):
        api.bank(name)
        api.add(name, f"pdq:{PDQ_A}")
    matches = api.lookup(f"pdq:{PDQ_A}", bank=["A", "C"])
    assert [m["bank"] for m in matches] == ["A", "C"]
    missing = api.client.get("/api/v1/lookup", params={"signal": f"pdq:{PDQ_A}", "bank": "NOPE"})
    assert missing.status_code == 404


def test_a_negative_bank_suppresses_other_matches_unless_raw(api: Api) -> None:
    api.bank("LEAKS")
    api.bank("KNOWN_FALSE_POSITIVES", negative=True)
    api.add("LEAKS", f"pdq:{PDQ_A}")
    api.add("KNOWN_FALSE_POSITIVES", f"pdq:{flip_bits(PDQ_A, 3)}")
    matches = api.lookup(f"pdq:{PDQ_A}")
    assert [(m["bank"], m.get("negative")) for m in matches] == [("KNOWN_FALSE_POSITIVES", True)]
    raw = api.lookup(f"pdq:{PDQ_A}", raw="true")
    assert [m["bank"] for m in raw] == ["KNOWN_FALSE_POSITIVES", "LEAKS"]


def test_disabled_content_and_banks_match_only_raw(api: Api) -> None:
    api.bank("A")
    api.bank("B", enabled=False)
    api.add("A", f"pdq:{PDQ_A}", disabled_until="2999-01-01T00:00:00+00:00")
    api.add("B", f"pdq:{PDQ_A}")
    assert api.lookup(f"pdq:{PDQ_A}") == []
    assert [m["bank"] for m in api.lookup(f"pdq:{PDQ_A}", raw="true")] == ["A", "B"]


@pytest.mark.parametrize(
    ("signal", "problem"),
    [
        ("pdq:1234", "bad-signal"),
        (PDQ_A, "bad-signal"),
        ("blurhash:abc", "bad-signal"),
    ],
)
def test_a_bad_lookup_signal_is_a_422(api: Api, signal: str, problem: str) -> None:
    response = api.client.get("/api/v1/lookup", params={"signal": signal})
    assert response.status_code == 422
    assert response.json()["type"] == f"urn:leakshield:problem:{problem}"


def test_a_rotated_upload_matches_only_with_dihedral(api: Api) -> None:
    api.bank()
    hashed = api.client.post(
        "/api/v1/hash", files={"file": ("c.png", image_bytes("camera"), "image/png")}
    ).json()
    assert hashed["media_type"] == "image" and hashed["pdq_quality"] >= 50
    pdq = next(s for s in hashed["signals"] if s.startswith("pdq:"))
    api.client.post("/api/v1/banks/PHOTOS/signals", json={"signals": [pdq]})
    rotated = {"file": ("r.png", image_bytes("camera", rotate=90), "image/png")}
    plain = api.client.post("/api/v1/lookup", files=rotated).json()
    assert plain["matches"] == []
    turned = api.client.post("/api/v1/lookup", files=rotated, data={"dihedral": "true"}).json()
    assert len(turned["signals"]) > 2
    assert [m["bank"] for m in turned["matches"]] == ["PHOTOS"]


def test_lookup_by_upload_needs_a_file_or_url(api: Api) -> None:
    response = api.client.post("/api/v1/lookup", data={"dihedral": "true"})
    assert response.status_code == 400


def test_bulk_lookup_answers_each_input_in_order(api: Api) -> None:
    api.bank()
    content = api.add("PHOTOS", f"pdq:{PDQ_A}")
    signals = [f"pdq:{PDQ_B}", "pdq:bad", f"pdq:{flip_bits(PDQ_A, 2)}", f"md5:{MD5_A}", "x"]
    results = api.client.post("/api/v1/lookup/bulk", json={"signals": signals}).json()["results"]
    assert [r["input"] for r in results] == signals
    assert results[0]["matches"] == []
    assert results[1]["error"]["code"] == "bad-signal" and "matches" not in results[1]
    assert results[2]["matches"] == [
        {"bank": "PHOTOS", "content_id": content["id"], "signal_type": "pdq", "distance": 2}
    ]
    assert results[3]["matches"] == []
    assert results[4]["error"]["code"] == "bad-signal"


@pytest.mark.parametrize(("count", "status"), [(0, 200), (1000, 200), (1001, 422)])
def test_bulk_lookup_takes_up_to_1000_signals(api: Api, count: int, status: int) -> None:
    response = api.client.post("/api/v1/lookup/bulk", json={"signals": [f"pdq:{PDQ_A}"] * count})
    assert response.status_code == status
    if status == 200:
        assert len(response.json()["results"]) == count


def test_bulk_lookup_limits_banks(api: Api) -> None:
    for name in ("A", "B"):
        api.bank(name)
        api.add(name, f"pdq:{PDQ_A}")
    body = {"signals": [f"pdq:{PDQ_A}"], "banks": ["B"]}
    results = api.client.post("/api/v1/lookup/bulk", json=body).json()["results"]
    assert [m["bank"] for m in results[0]["matches"]] == ["B"]


@pytest.mark.parametrize(
    ("a", "b", "status", "expected"),
    [
        (f"pdq:{PDQ_A}", f"pdq:{flip_bits(PDQ_A, 9)}", 200, {"match": True, "distance": 9}),
        (f"pdq:{PDQ_A}", f"pdq:{PDQ_B}", 200, {"match": False, "distance": 100}),
        (f"md5:{MD5_A}", f"md5:{MD5_A}", 200, {"match": True, "distance": 0}),
        (f"pdq:{PDQ_A}", f"md5:{MD5_A}", 400, None),
        ("/etc/passwd", f"pdq:{PDQ_A}", 422, None),
    ],
)
def test_compare(api: Api, a: str, b: str, status: int, expected: dict[str, Any] | None) -> None:
    response = api.client.post("/api/v1/compare", json={"a": a, "b": b})
    assert response.status_code == status
    if expected is not None:
        body = response.json()
        assert {k: body[k] for k in expected} == expected
        assert body["a"] == a and body["b"] == b


def test_index_status_counts_what_the_matcher_holds(api: Api) -> None:
    api.bank()
    api.add("PHOTOS", f"pdq:{PDQ_A}", f"md5:{MD5_A}")
    status = api.client.get("/api/v1/index/status").json()
    assert status["signals"] == {"pdq": 1, "vpdq": 0, "md5": 1, "sha256": 0}
    assert status["seq"] >= 2
    assert status["source"] in ("database", "snapshot+database")
    assert status["follower_error"] is None
    assert 0 <= status["seconds_since_refresh"] < 5


# Freshness across processes' matchers: two apps over one database


@pytest.mark.parametrize("route", ["content", "signals"])
def test_a_write_through_one_app_is_seen_by_the_other_within_a_second(
    make_api: Callable[..., Api], route: str
) -> None:
    writer, reader = make_api(), make_api()
    writer.bank()
    signal = f"pdq:{PDQ_A}"
    assert writer.lookup(signal) == []
    if route == "content":
        content_id = writer.add("PHOTOS", signal)["id"]
    else:
        writer.client.post("/api/v1/banks/PHOTOS/signals", json={"signals": [signal]})
    assert len(writer.lookup(signal)) == 1  # the writer sees its own write at once
    eventually(lambda: len(reader.lookup(signal)) == 1, within=1.0)

    if route == "content":
        writer.client.delete(f"/api/v1/banks/PHOTOS/content/{content_id}")
    else:
        writer.client.post("/api/v1/banks/PHOTOS/signals/remove", json={"signals": [signal]})
    assert writer.lookup(signal) == []
    eventually(lambda: reader.lookup(signal) == [], within=1.0)


def test_a_bank_disabled_through_one_app_stops_matching_in_the_other(
    make_api: Callable[..., Api],
) -> None:
    writer, reader = make_api(), make_api()
    writer.bank()
    writer.add("PHOTOS", f"pdq:{PDQ_A}")
    eventually(lambda: len(reader.lookup(f"pdq:{PDQ_A}")) == 1)
    writer.client.patch("/api/v1/banks/PHOTOS", json={"enabled": False})
    eventually(lambda: reader.lookup(f"pdq:{PDQ_A}") == [])


# Health


def test_status_reports_the_matcher_and_degrades_when_following_fails(api: Api) -> None:
    body = api.client.get("/status").json()
    assert body["status"] == "ok"
    assert body["matcher"]["loaded"] is True
    assert body["matcher"]["signals"] == {"pdq": 0, "vpdq": 0, "md5": 0, "sha256": 0}

    services = api.app.state.services
    services.follower.stop()  # simulate a follower failing for 11 s
    services.follower.last_error = "OperationalError: connection to db.internal:5432 refused"
    services.matcher.refreshed_at -= 11
    response = api.client.get("/status")
    assert response.status_code == 503
    matcher = response.json()["matcher"]
    assert matcher["follower_error"] == (
        "applying bank changes fails; the server log has the details"
    )
    assert "db.internal" not in response.text  # /status needs no key: nothing of the database
    detailed = api.client.get("/api/v1/index/status").json()
    assert "db.internal" in detailed["follower_error"]  # a key holder may see what fails
