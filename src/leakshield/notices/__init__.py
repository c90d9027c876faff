"""Notices: removal requests drafted from a case under each legal regime and platform
route (kept as data files), checked for every required element, tracked in the case's
tamper-evident log from draft to removal, with deadlines, escalations and rechecks."""

from leakshield.notices._compose import (
    applicable_routes,
    draft_notice,
    escalate_notice,
)
from leakshield.notices._deadlines import (
    Due,
    deadline_of,
    describe_left,
    due,
    parse_utc,
    parse_when,
    show_time,
    utc_text,
    zone_named,
)
from leakshield.notices._directory import Directory, load_entry
from leakshield.notices._model import (
    STATES,
    Draft,
    Location,
    Missing,
    Notice,
    NoticeDataError,
    NoticeNotFoundError,
    Observation,
    Profile,
    Section,
    StateChange,
)
from leakshield.notices._plan import PlanRow, make_plan
from leakshield.notices._recheck import Target, judge, recheck
from leakshield.notices._render import (
    format_for,
    render_eml,
    render_html,
    render_pdf,
    render_text,
    write_draft,
)
from leakshield.notices._schema import PlatformEntry, RegimeEntry, Route
from leakshield.notices._tracking import (
    ACTION_WORDS,
    CaseNotices,
    case_hashes,
    case_locations,
    check_profile,
    check_url,
    read_case,
    record_state,
    set_profile,
)

__all__ = [
    "ACTION_WORDS",
    "STATES",
    "CaseNotices",
    "Directory",
    "Draft",
    "Due",
    "Location",
    "Missing",
    "Notice",
    "NoticeDataError",
    "NoticeNotFoundError",
    "Observation",
    "PlanRow",
    "PlatformEntry",
    "Profile",
    "RegimeEntry",
    "Route",
    "Section",
    "StateChange",
    "Target",
    "applicable_routes",
    "case_hashes",
    "case_locations",
    "check_profile",
    "check_url",
    "deadline_of",
    "describe_left",
    "draft_notice",
    "due",
    "escalate_notice",
    "format_for",
    "judge",
    "load_entry",
    "make_plan",
    "parse_utc",
    "parse_when",
    "read_case",
    "recheck",
    "record_state",
    "render_eml",
    "render_html",
    "render_pdf",
    "render_text",
    "set_profile",
    "show_time",
    "utc_text",
    "write_draft",
    "zone_named",
]
