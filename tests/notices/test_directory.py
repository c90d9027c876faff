"""The notice directory: every shipped regime and platform file is valid and complete, a
bad file is refused with its path and field, an override corrects an entry, and a URL
finds its platform the way a browser reads it."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from leakshield.notices._directory import BUILT_IN, MAX_FILES, Directory, load_entry
from leakshield.notices._model import NoticeDataError, NoticeNotFoundError
from leakshield.notices._schema import Element, PlatformEntry, RegimeEntry, Route

DOCS = Path(__file__).parents[2] / "docs" / "notices-data.md"

SAMPLE_REGIME = """\
schema = 1
id = "sample"
name = "Sample regime"
kind = "removal"
jurisdiction = "US"
summary = "A regime for the tests."
source = "https://example.org/law"
checked = 2026-11-30
checked_how = "Written for the tests."
subject = "Removal request"
opening = "I ask {platform} to remove {content}."

[[elements]]
id = "location"
text = "Where the content is."
fields = ["locations"]
"""

SAMPLE_PLATFORM = """\
schema = 1
id = "sample"
name = "Sample"
kind = "platform"
domains = ["sample.example"]
checked = 2026-11-30
checked_how = "Written for the tests."

[[routes]]
regime = "platform-policy"
name = "Report"
channel = "web-form"
where = "https://sample.example/report"
how = "Fill in the form."
source = "https://sample.example/help"
"""

# The regimes the code relies on, with each element's id and fields in order.
REQUIRED_ELEMENTS = {
    "us-take-it-down": {
        "signature": ("signature", "authority"),
        "identification": ("locations", "identification"),
        "good-faith": ("statement",),
        "contact": ("contact_email",),
    },
    "us-dmca": {
        "signature": ("signature", "authority"),
        "work": ("copyright_work",),
        "infringing-material": ("locations", "identification"),
        "contact": ("requester_name", "contact_address", "contact_phone", "contact_email"),
        "good-faith": ("statement",),
        "accuracy-perjury": ("statement",),
    },
    "eu-dsa-16": {
        "explanation": ("explanation",),
        "location": ("locations", "identification"),
        "notifier": ("requester_name", "contact_email"),
        "good-faith": ("statement",),
    },
    "au-esafety": {
        "australian-link": ("jurisdiction_link",),
        "location": ("locations", "identification"),
        "contact": ("contact_email",),
        "consent": ("statement",),
        "earlier-reports": ("earlier_reports",),
    },
    "uk-osa": {
        "location": ("locations", "identification"),
        "consent": ("statement",),
        "contact": ("contact_email",),
    },
    "platform-policy": {
        "location": ("locations", "identification"),
        "consent": ("statement",),
    },
    "us-ftc-complaint": {
        "escalated": ("escalated_notice",),
        "location": ("locations", "identification"),
        "contact": ("requester_name", "contact_email"),
    },
    "hash-program": {},
}
HOSTING = ("x", "meta", "tiktok", "reddit", "youtube", "aylo", "onlyfans")
SEARCH = ("google-search", "bing")
FILLINGS = (  # as leakshield.notices._fields fills them
    {
        "platform": "X",
        "person": "me",
        "content": "intimate images shared without consent",
        "regime": "US TAKE IT DOWN Act removal request",
    },
    {
        "platform": "Meta",
        "person": "the person I represent, Jane Doe",
        "content": "digitally forged intimate images (deepfakes) made and shared without consent",
        "regime": "EU Digital Services Act notice (Article 16)",
    },
)


@pytest.fixture(scope="module")
def directory() -> Directory:
    return Directory.load()


def shipped(kind: str) -> list[Path]:
    return sorted((BUILT_IN / kind).glob("*.toml"))


# --- the shipped files ----------------------------------------------------------------


@pytest.mark.parametrize("path", shipped("regimes"), ids=lambda p: p.stem)
def test_every_shipped_regime_file_is_valid(path: Path) -> None:
    regime = load_entry(path, RegimeEntry)
    assert regime.checked_how and regime.source.startswith("https://")


@pytest.mark.parametrize("path", shipped("platforms"), ids=lambda p: p.stem)
def test_every_shipped_platform_file_is_valid(path: Path) -> None:
    platform = load_entry(path, PlatformEntry)
    assert all(route.source.startswith("https://") for route in platform.routes)


def test_the_regimes_the_code_relies_on_have_their_elements(directory: Directory) -> None:
    for regime_id, elements in REQUIRED_ELEMENTS.items():
        regime = directory.regime(regime_id)
        assert {e.id: e.fields for e in regime.elements} == elements, regime_id


def test_the_regimes_deadlines_and_escalations(directory: Directory) -> None:
    take_it_down = directory.regime("us-take-it-down")
    assert (take_it_down.deadline_hours, take_it_down.deadline_from) == (48, "sent")
    assert take_it_down.escalations == ("us-ftc-complaint", "au-esafety")
    esafety = directory.regime("au-esafety")
    assert (esafety.deadline_hours, esafety.deadline_from) == (24, "acknowledged")
    assert esafety.countries == ("AU",)
    assert directory.regime("uk-osa").countries == ("GB",)
    dmca = directory.regime("us-dmca")
    assert dmca.requires_copyright and dmca.deadline_hours is None
    assert "expeditiously" in (dmca.deadline_note or "")
    assert any("uploader" in w and "contact details" in w for w in dmca.warnings)
    assert directory.regime("eu-dsa-16").explanation
    assert directory.regime("platform-policy").escalations == ("au-esafety",)


def test_the_hash_program_warnings_say_what_cannot_be_undone(directory: Directory) -> None:
    warnings = " ".join(directory.regime("hash-program").warnings)
    assert "18" in warnings and "PIN" in warnings and "cannot be recovered" in warnings
    assert "Never upload" in warnings
    ncmec = directory.platform("ncmec-take-it-down")
    assert "Never download" in (ncmec.notes or "")


def test_the_platforms_the_code_relies_on_have_their_routes(directory: Directory) -> None:
    for platform_id in HOSTING + SEARCH:
        regimes = [route.regime for route in directory.platform(platform_id).routes]
        assert {"platform-policy", "eu-dsa-16", "us-dmca"} <= set(regimes), platform_id
        if platform_id in HOSTING:
            assert regimes[0] == "us-take-it-down", platform_id
    assert [r.regime for r in directory.platform("x").routes][:4] == [
        "us-take-it-down",
        "platform-policy",
        "eu-dsa-16",
        "us-dmca",
    ]
    stopncii = directory.platform("stopncii").routes[0]
    assert (stopncii.regime, stopncii.audience, stopncii.channel) == (
        "hash-program",
        "adult",
        "on-device",
    )
    assert directory.platform("ncmec-take-it-down").routes[0].audience == "minor"
    assert directory.platform("ftc").routes[0].regime == "us-ftc-complaint"
    assert directory.platform("esafety").routes[0].regime == "au-esafety"
    assert "ID" in (directory.platform("x").notes or "")


def test_every_route_and_escalation_names_a_known_regime(directory: Directory) -> None:
    for platform in directory.platforms.values():
        for route in platform.routes:
            assert route.regime in directory.regimes, (platform.id, route.regime)
    for regime in directory.regimes.values():
        assert set(regime.escalations) <= set(directory.regimes), regime.id


def test_the_texts_fill_cleanly_with_either_requester(directory: Directory) -> None:
    for regime in directory.regimes.values():
        # The subject and the warnings are filled too, though only the others are
        # checked for unknown placeholders when the file is read.
        texts = [regime.subject, regime.opening, regime.explanation or "", *regime.warnings]
        texts += [element.statement or "" for element in regime.elements]
        for text in texts:
            for filling in FILLINGS:
                filled = text.format(**filling)  # a stray brace would raise here
                assert "{" not in filled and "}" not in filled, regime.id


def test_the_shipped_entries_are_recent(directory: Directory) -> None:
    assert directory.stale(date(2027, 1, 1)) == []
    assert "platforms/x.toml" in directory.stale(date(2028, 1, 1))
    assert "regimes/us-dmca.toml" in directory.stale(date(2028, 1, 1))


# --- hostile files --------------------------------------------------------------------


def platform_with(old: str, new: str) -> str:
    assert old in SAMPLE_PLATFORM
    return SAMPLE_PLATFORM.replace(old, new)


def regime_with(old: str, new: str) -> str:
    assert old in SAMPLE_REGIME
    return SAMPLE_REGIME.replace(old, new)


# (folder, file text, what the message must say after the path), by what is wrong.
HOSTILE = {
    "bad TOML": ("platforms", platform_with('"Sample"\n', "\n"), "not valid TOML (line 3, column"),
    "unterminated": ("platforms", SAMPLE_PLATFORM + 'notes = "x', "TOML (at the end of the file)"),
    "unknown key": ("platforms", 'colour = "blue"\n' + SAMPLE_PLATFORM, "colour: unknown key"),
    "unknown key in a route": ("platforms", SAMPLE_PLATFORM + "colour = 1\n", "routes.0.colour: "),
    "missing field": ("platforms", platform_with('name = "Sample"\n', ""), "name: missing"),
    "wrong type": ("platforms", platform_with("2026-11-30", '"last week"'), "checked: "),
    "bad URL": ("platforms", platform_with("https://sample", "http://sample"), "routes.0.where: "),
    "bad domain": ("platforms", platform_with('["sample.', '["https://sample.'), "domains.0: "),
    "unknown kind": ("platforms", platform_with('"platform"', '"forum"'), "kind: Input should be"),
    "wrong schema": ("regimes", regime_with("schema = 1", "schema = 2"), "schema: schema 2 is not"),
    "unknown field id": ("regimes", regime_with("locations", "shoe_size"), "unknown field 'shoe_"),
    "unknown placeholder": ("regimes", regime_with("{content}", "{victim}"), "{victim}; known"),
    "statement without words": ("regimes", regime_with("locations", "statement"), "but has none"),
}


@pytest.mark.parametrize(("folder", "text", "expected"), HOSTILE.values(), ids=HOSTILE)
def test_a_bad_file_is_refused_with_its_path_and_field(
    tmp_path: Path, folder: str, text: str, expected: str
) -> None:
    path = tmp_path / folder / "sample.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(NoticeDataError) as caught:
        Directory.from_folders(BUILT_IN, tmp_path)
    assert caught.value.message.startswith(f"{path}: ")
    assert expected in caught.value.message


def test_a_file_whose_name_is_not_its_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text(SAMPLE_PLATFORM, encoding="utf-8")
    with pytest.raises(NoticeDataError, match="the file is named other but its id is sample"):
        load_entry(path, PlatformEntry)


def test_an_oversized_or_binary_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "sample.toml"
    big.write_text(SAMPLE_PLATFORM + "#" + "x" * 300_000 + "\n", encoding="utf-8")
    with pytest.raises(NoticeDataError, match=r"over 256 KiB"):
        load_entry(big, PlatformEntry)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b'schema = 1\nname = "\xff"\n')
    with pytest.raises(NoticeDataError, match="not UTF-8"):
        load_entry(binary, PlatformEntry)


def test_a_folder_of_too_many_files_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "platforms"
    folder.mkdir()
    for index in range(MAX_FILES + 1):
        (folder / f"p{index}.txt").touch()
    with pytest.raises(NoticeDataError, match=f"more than {MAX_FILES} files"):
        Directory.from_folders(tmp_path)


def test_a_route_to_an_unknown_regime_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "platforms" / "sample.toml"
    path.parent.mkdir()
    path.write_text(SAMPLE_PLATFORM.replace('"platform-policy"', '"nowhere"'), "utf-8")
    with pytest.raises(NoticeDataError) as caught:
        Directory.from_folders(BUILT_IN, tmp_path)
    assert caught.value.message.startswith(f"{path}: routes.0.regime: no regime 'nowhere'")
    assert "us-take-it-down" in caught.value.message  # the known ids, to pick from


def test_an_escalation_to_an_unknown_regime_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "regimes" / "sample.toml"
    path.parent.mkdir()
    path.write_text(
        SAMPLE_REGIME.replace("[[elements]]", 'escalations = ["nowhere"]\n\n[[elements]]'), "utf-8"
    )
    with pytest.raises(NoticeDataError, match=r"sample\.toml: escalations\.0: no regime"):
        Directory.from_folders(BUILT_IN, tmp_path)


def test_a_domain_claimed_by_two_platforms_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "platforms" / "sample.toml"
    path.parent.mkdir()
    path.write_text(SAMPLE_PLATFORM.replace('["sample.example"]', '["x.com"]'), "utf-8")
    with pytest.raises(NoticeDataError) as caught:
        Directory.from_folders(BUILT_IN, tmp_path)
    message = caught.value.message
    assert "x.com is also claimed by" in message
    assert str(path) in message and str(BUILT_IN / "platforms" / "x.toml") in message


# --- overrides ------------------------------------------------------------------------


def test_an_override_replaces_an_entry_and_can_add_one(tmp_path: Path) -> None:
    (tmp_path / "platforms").mkdir()
    corrected = tmp_path / "platforms" / "x.toml"
    text = (BUILT_IN / "platforms" / "x.toml").read_text(encoding="utf-8")
    corrected.write_text(text.replace('name = "X"', 'name = "X, corrected"'))
    (tmp_path / "platforms" / "sample.toml").write_text(SAMPLE_PLATFORM, encoding="utf-8")
    (tmp_path / "platforms" / "notes.txt").write_text("not an entry", encoding="utf-8")

    directory = Directory.load(tmp_path)

    assert directory.platform("x").name == "X, corrected"
    assert directory.files["platforms/x.toml"] == corrected
    assert directory.platform("sample").routes[0].regime == "platform-policy"
    assert directory.platform("meta").name == Directory.load().platform("meta").name


def test_an_absent_override_folder_leaves_the_built_in_directory(tmp_path: Path) -> None:
    directory = Directory.load(tmp_path / "nothing-here")
    assert set(directory.platforms) == set(Directory.load().platforms)


def test_a_stale_override_is_reported(tmp_path: Path) -> None:
    (tmp_path / "regimes").mkdir()
    old = SAMPLE_REGIME.replace("checked = 2026-11-30", "checked = 2024-01-31")
    (tmp_path / "regimes" / "sample.toml").write_text(old, encoding="utf-8")
    directory = Directory.load(tmp_path)
    assert directory.stale(date(2026, 12, 1)) == ["regimes/sample.toml"]


def test_the_built_in_folder_can_be_copied_and_read(tmp_path: Path) -> None:
    copy = shutil.copytree(BUILT_IN, tmp_path / "data")
    assert set(Directory.from_folders(copy).regimes) == set(REQUIRED_ELEMENTS)


# --- lookups --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.com/someone/status/1", "x"),
        ("https://mobile.twitter.com/someone/status/1", "x"),
        ("HTTPS://WWW.X.COM/someone", "x"),
        ("https://x.com:443/someone", "x"),
        ("http://user:secret@x.com/someone", "x"),
        ("https://x.com./someone", "x"),
        ("https://x%2Ecom/someone", "x"),  # a browser decodes the escape: this is x.com
        ("https://x\u3002com/someone", "x"),  # an ideographic full stop is a dot to IDNA
        ("https://pbs.twimg.com/media/abc.jpg", "x"),
        ("https://scontent-lhr8-1.xx.fbcdn.net/v/t39.jpg", "meta"),
        ("https://www.instagram.com/p/abc/", "meta"),
        ("https://youtu.be/abc", "youtube"),
        ("https://i.redd.it/abc.jpg", "reddit"),
        ("https://www.google.com/search?q=name", "google-search"),
        ("https://www.pornhub.com/view_video.php?viewkey=1", "aylo"),
        ("https://drive.google.com/file/d/1", None),  # hosting on google.com, not Search
        ("https://x.com.evil.example/someone", None),
        ("https://notx.com/someone", None),
        ("https://\u0445.com/someone", None),  # a Cyrillic lookalike of x
        ("https://evil.example\\@x.com/", None),  # a browser goes to evil.example
        ("https://x.com\u0000.evil.example/", None),
        ("https://[::1]/", None),
        ("https://[unclosed/", None),
        ("ftp://x.com/file", None),
        ("x.com/someone", None),
        ("javascript:alert(1)//x.com", None),
        ("", None),
        ("https://stopncii.org/", None),  # a hash program is never where content is
        ("https://reportfraud.ftc.gov/", None),
        ("https://www.esafety.gov.au/report", None),
    ],
)
def test_a_url_finds_its_platform(directory: Directory, url: str, expected: str | None) -> None:
    found = directory.platform_for_url(url)
    assert (found.id if found else None) == expected


@pytest.mark.parametrize("name", ["x", "X", " x ", "x.com", "www.x.com", "twitter.com"])
def test_a_platform_is_found_by_id_or_domain(directory: Directory, name: str) -> None:
    assert directory.platform(name).id == "x"


def test_a_hash_program_is_found_by_name(directory: Directory) -> None:
    assert directory.platform("stopncii.org").id == "stopncii"


def test_an_unknown_platform_or_regime_names_the_known_ones(directory: Directory) -> None:
    with pytest.raises(NoticeNotFoundError, match=r"Known platforms: .*google-search"):
        directory.platform("myspace")
    with pytest.raises(NoticeNotFoundError, match=r"Known regimes: .*us-take-it-down"):
        directory.regime("gdpr-17")


# --- the documentation ----------------------------------------------------------------


def test_the_docs_describe_every_field() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for model in (RegimeEntry, Element, PlatformEntry, Route):
        for name, info in model.model_fields.items():
            assert f"`{info.alias or name}`" in docs, f"{model.__name__}.{name}"
