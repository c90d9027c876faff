"""What the notices subsystem deals in: the requester, where the content is, drafts, and
the notices tracked from draft to removal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from leakshield.errors import ConfigError, NotFoundError

__all__ = [
    "CLOSED_STATES",
    "STATES",
    "ContentHash",
    "Draft",
    "Location",
    "Missing",
    "Notice",
    "NoticeDataError",
    "NoticeNotFoundError",
    "Observation",
    "Profile",
    "Section",
    "State",
    "StateChange",
]

State = Literal["draft", "sent", "acknowledged", "removed", "refused", "no-answer"]
STATES: tuple[State, ...] = ("draft", "sent", "acknowledged", "removed", "refused", "no-answer")
CLOSED_STATES: frozenset[str] = frozenset({"removed", "refused"})
ContentKind = Literal["real", "synthetic", "unknown"]


class NoticeDataError(ConfigError):
    """A regime or platform data file is malformed; the message names the file and field."""

    slug = "bad-notice-data"
    title = "Bad notice data file"


class NoticeNotFoundError(NotFoundError):
    """No notice, platform or regime has that id."""

    slug = "notice-not-found"
    title = "Notice not found"


@dataclass(frozen=True)
class Profile:
    """Who asks, for whom, and the facts that decide which routes apply. Kept sealed in
    the case's log; a draft takes from it only what its regime requires."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    country: str | None = None  # ISO 3166 alpha-2: where the depicted person lives
    link: str | None = None  # another link to a regime's country (where the poster lives)
    acting_for: str | None = None  # representative mode: the depicted person's name
    authority: str | None = None  # why the representative may act for them
    minor: bool = False  # the depicted person was under 18 when the content was made
    copyright_holder: bool = False  # the requester holds the copyright (took the photo)
    work: str | None = None  # the copyrighted work, for DMCA
    content: ContentKind = "unknown"  # real, synthetic ("deepfake"), or not known

    @property
    def representative(self) -> bool:
        return self.acting_for is not None

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Profile:
        known = {k: record[k] for k in cls.__dataclass_fields__ if k in record}
        return cls(**known)

    def updated(self, **changes: Any) -> Profile:
        return replace(self, **changes)


@dataclass(frozen=True)
class Location:
    """A place the content is, as the case knows it: the URL exactly as found."""

    url: str
    platform: str | None = None  # the directory's id, None for a host it does not know
    captured_at: str | None = None  # UTC, from the case's capture of it
    capture_item: str | None = None
    screenshot_sha256: str | None = None
    status: int | None = None


@dataclass(frozen=True)
class ContentHash:
    """A file of the case, by its digests only (never its bytes or its path)."""

    item: str
    name: str
    sha256: str
    pdq: str | None = None


@dataclass(frozen=True)
class Missing:
    """A required element the draft lacks, and how to supply it."""

    element: str  # the element's id
    text: str  # the element as the law words it
    reason: str  # what is missing and the command that supplies it


@dataclass(frozen=True)
class Section:
    """One part of the request, in order; a section without a label is plain prose."""

    field: str
    label: str
    text: str


@dataclass(frozen=True)
class Draft:
    """A removal request (or a complaint, or hash-program steps), filled from the case."""

    notice_id: str
    case_id: str
    platform_id: str
    platform_name: str
    regime_id: str
    regime_name: str
    route_name: str
    channel: str  # web-form, in-app, email, portal or on-device
    where: str
    how: str
    subject: str
    sections: tuple[Section, ...]
    ready: bool
    missing: tuple[Missing, ...]
    warnings: tuple[str, ...]  # for the requester; never part of the request itself
    locations: tuple[Location, ...]
    drafted_at: str  # UTC
    to_email: str | None = None
    from_email: str | None = None  # the requester's, only when the regime needs it
    escalates: str | None = None  # the notice this one escalates
    deadline_hours: int | None = None
    deadline_from: str = "sent"
    deadline_who: str | None = None

    def text(self) -> str:
        """The request as plain text: what goes into a web form or an e-mail's body."""
        parts = [self.subject, ""]
        for section in self.sections:
            if section.label:
                parts.append(section.label)
            parts.extend([section.text, ""])
        return "\n".join(parts).rstrip() + "\n"

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Draft:
        values = dict(record)
        values["sections"] = tuple(Section(**s) for s in values.get("sections", ()))
        values["missing"] = tuple(Missing(**m) for m in values.get("missing", ()))
        values["locations"] = tuple(Location(**loc) for loc in values.get("locations", ()))
        values["warnings"] = tuple(values.get("warnings", ()))
        known = {k: values[k] for k in cls.__dataclass_fields__ if k in values}
        return cls(**known)


@dataclass(frozen=True)
class StateChange:
    """A notice entering a state, when it did (UTC), and what the platform said."""

    state: State
    at: str  # when it happened, UTC, as the requester says
    recorded_at: str  # when it was entered in the log, UTC
    reference: str | None = None  # the platform's ticket or case number
    note: str | None = None


@dataclass(frozen=True)
class Notice:
    """A drafted request and everything that has happened to it since."""

    draft: Draft
    history: tuple[StateChange, ...] = field(default=())

    @property
    def id(self) -> str:
        return self.draft.notice_id

    @property
    def state(self) -> State:
        return self.history[-1].state if self.history else "draft"

    def entered(self, state: str) -> str | None:
        """When the notice first entered ``state`` (UTC), or None."""
        return next((c.at for c in self.history if c.state == state), None)

    @property
    def closed(self) -> bool:
        return self.state in CLOSED_STATES

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "platform": self.draft.platform_id,
            "regime": self.draft.regime_id,
            "route": self.draft.route_name,
            "state": self.state,
            "ready": self.draft.ready,
            "missing": [m.element for m in self.draft.missing],
            "urls": [loc.url for loc in self.draft.locations],
            "drafted_at": self.draft.drafted_at,
            "escalates": self.draft.escalates,
            "history": [asdict(c) for c in self.history],
        }


@dataclass(frozen=True)
class Observation:
    """What a recheck of a reported URL saw."""

    url: str
    outcome: Literal["still-there", "gone", "unclear"]
    reason: str  # in words: "HTTP 404", "the page says 'This post is unavailable'"
    checked_at: str  # UTC
    status: int | None = None
    final_url: str | None = None
    platform: str | None = None
    capture_item: str | None = None  # the capture kept in the case (none in a minor's case)
    screenshot_sha256: str | None = None
    notices: tuple[str, ...] = ()  # the notices that reported this URL

    def to_record(self) -> dict[str, Any]:
        return {**asdict(self), "notices": list(self.notices)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Observation:
        values = {k: record[k] for k in cls.__dataclass_fields__ if k in record}
        values["notices"] = tuple(values.get("notices", ()))
        return cls(**values)
