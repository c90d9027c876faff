"""The shape of the notice data files: legal regimes and the platform directory.

Each regime and each platform is one TOML file under ``notices/data`` (and, to correct
an entry without a release, under ``<data dir>/notices``). Every file is checked against
these models when it is loaded: an unknown key, a missing field or a bad value refuses
the file, naming its path and the field (see docs/notices-data.md).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

__all__ = [
    "FIELD_IDS",
    "PLACEHOLDERS",
    "SCHEMA_VERSION",
    "Audience",
    "Element",
    "PlatformEntry",
    "RegimeEntry",
    "Route",
    "matches_domain",
]

SCHEMA_VERSION = 1

# The placeholders a regime's texts may use; `_fields` fills them.
PLACEHOLDERS = ("platform", "person", "content", "regime")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

# What a draft can be filled with; each id is one entry of `_fields.FIELDS`.
FIELD_IDS = (
    "requester_name",
    "signature",
    "authority",
    "contact_email",
    "contact_phone",
    "contact_address",
    "locations",
    "identification",
    "statement",
    "explanation",
    "copyright_work",
    "jurisdiction_link",
    "earlier_reports",
    "escalated_notice",
)

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4_000)]
Line = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^[^\r\n]*$")]
HttpUrl = Annotated[str, StringConstraints(pattern=r"^https://[^\s]+$", max_length=500)]
Domain = Annotated[
    str, StringConstraints(max_length=253, pattern=r"^([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")
]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Audience = Literal["any", "adult", "minor"]


def _known_fields(value: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [f for f in value if f not in FIELD_IDS]
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}; known: {', '.join(FIELD_IDS)}")
    return value


def _supported(value: int) -> int:
    if value != SCHEMA_VERSION:
        raise ValueError(f"schema {value} is not supported; this version reads schema 1")
    return value


FieldIds = Annotated[tuple[str, ...], AfterValidator(_known_fields)]
SchemaVersion = Annotated[int, AfterValidator(_supported)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Element(_Entry):
    """One element a valid request must contain, and the fields that supply it."""

    id: Id
    text: Text  # the element as the law or the platform words it
    cite: Line | None = None  # e.g. "223a(a)(1)(B)(i)"
    fields: FieldIds = Field(min_length=1)
    statement: Text | None = None  # the words of a statement the requester affirms


class RegimeEntry(_Entry):
    """A legal regime (or a platform's own policy, or a complaint to a regulator): what a
    request under it must contain, the deadline it sets and the words it uses."""

    schema_: SchemaVersion = Field(alias="schema")
    id: Id
    name: Line
    kind: Literal["removal", "copyright", "policy", "complaint", "escalation", "hash-program"]
    jurisdiction: Line  # "US", "EU", "AU", "GB", or "platform"
    citation: Line | None = None
    summary: Text
    source: HttpUrl
    checked: date
    checked_how: Text
    subject: Line  # the request's title, and its e-mail subject
    opening: Text  # the request's first paragraph
    explanation: Text | None = None  # the "why this is illegal" paragraph, if it needs one
    words: tuple[Line, ...] = ()
    warnings: tuple[Text, ...] = ()
    elements: tuple[Element, ...] = ()
    deadline_hours: int | None = Field(default=None, ge=1, le=24 * 365)
    deadline_from: Literal["sent", "acknowledged"] = "sent"
    deadline_who: Line | None = None  # who must act by the deadline
    deadline_note: Text | None = None
    escalations: tuple[Id, ...] = ()  # regimes to escalate to when the deadline is missed
    requires_copyright: bool = False
    audience: Audience = "any"
    countries: tuple[Country, ...] = ()  # a link to one of these is needed; empty: any

    @field_validator("elements")
    @classmethod
    def _unique(cls, value: tuple[Element, ...]) -> tuple[Element, ...]:
        ids = [e.id for e in value]
        if len(set(ids)) != len(ids):
            raise ValueError("two elements have the same id")
        return value

    @model_validator(mode="after")
    def _texts(self) -> RegimeEntry:
        texts = {
            "subject": self.subject,
            "opening": self.opening,
            "explanation": self.explanation or "",
        }
        texts.update({f"warnings.{n}": w for n, w in enumerate(self.warnings)})
        for element in self.elements:
            if "statement" in element.fields and not element.statement:
                raise ValueError(f"element {element.id!r} uses the field 'statement' but has none")
            if "explanation" in element.fields and not self.explanation:
                raise ValueError(f"element {element.id!r} uses 'explanation' but it is not set")
            texts[f"elements.{element.id}.statement"] = element.statement or ""
        for where, text in texts.items():
            for name in _PLACEHOLDER.findall(text):
                if name not in PLACEHOLDERS:
                    raise ValueError(
                        f"{where}: unknown placeholder {{{name}}}; known: "
                        + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                    )
        return self

    def element(self, element_id: str) -> Element:
        return next(e for e in self.elements if e.id == element_id)


class Route(_Entry):
    """One way a platform takes a request: under which regime, where and how."""

    regime: Id
    name: Line
    channel: Literal["web-form", "in-app", "email", "portal", "on-device"]
    where: HttpUrl  # the form, portal or help page
    how: Text  # the steps, in the platform's words
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")] | None = None
    asks_for: FieldIds = ()  # the fields the form asks for, in its order
    deadline_hours: int | None = Field(default=None, ge=1, le=24 * 365)  # the platform's own
    words: tuple[Line, ...] = ()
    audience: Audience = "any"
    content: Literal["any", "real", "synthetic"] = "any"  # a form for real or fake images
    note: Text | None = None
    source: HttpUrl


class PlatformEntry(_Entry):
    """A platform, search engine, hash program or regulator, and the routes it takes."""

    schema_: SchemaVersion = Field(alias="schema")
    id: Id
    name: Line
    kind: Literal["platform", "search-engine", "hash-program", "regulator"]
    domains: tuple[Domain, ...] = ()
    checked: date
    checked_how: Text
    routes: tuple[Route, ...] = Field(min_length=1)
    removed_markers: tuple[Line, ...] = ()  # page text that says the content is gone
    login_markers: tuple[Line, ...] = ()  # page text that says a login hides the page
    notes: Text | None = None

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a domain is listed twice")
        return value

    def route(self, regime_id: str) -> Route | None:
        """The platform's first route under ``regime_id``."""
        return next(iter(self.routes_for(regime_id)), None)

    def routes_for(self, regime_id: str) -> list[Route]:
        """Every route of the platform under ``regime_id``, in its order."""
        return [r for r in self.routes if r.regime == regime_id]


def matches_domain(host: str, domain: str) -> bool:
    """Whether ``host`` is ``domain`` or one of its subdomains."""
    host = host.lower().rstrip(".")
    return host == domain or host.endswith("." + domain)
