"""Hash banks: named lists of signals, their import and export, and the matcher that
matches inputs against every bank and follows changes as they are committed."""

from leakshield.banks._formats import (
    SUPPORTED_FORMATS,
    HashRecord,
    ImportFormat,
    ImportFormatError,
    SkippedLine,
    detect_format,
    read_records,
    write_records,
)
from leakshield.banks._import import import_hash_list
from leakshield.banks._lookup import FileSignals, file_signals
from leakshield.banks._matcher import (
    EXACT_TYPES,
    MATCHABLE_TYPES,
    Matcher,
    MatcherStatus,
    parse_lookup_signal,
    suppress_negative,
)
from leakshield.banks._model import (
    DEFAULT_THRESHOLDS,
    MAX_THRESHOLD,
    Bank,
    BankContent,
    BankExistsError,
    BankInputError,
    BankNotFoundError,
    ImportReport,
    Match,
    check_bank_name,
)
from leakshield.banks._snapshot import (
    SNAPSHOT_AFTER,
    Follower,
    matcher_cache_dir,
    open_matcher,
    save_snapshot,
)
from leakshield.banks._store import BankStore

__all__ = [
    "DEFAULT_THRESHOLDS",
    "EXACT_TYPES",
    "MATCHABLE_TYPES",
    "MAX_THRESHOLD",
    "SNAPSHOT_AFTER",
    "SUPPORTED_FORMATS",
    "Bank",
    "BankContent",
    "BankExistsError",
    "BankInputError",
    "BankNotFoundError",
    "BankStore",
    "FileSignals",
    "Follower",
    "HashRecord",
    "ImportFormat",
    "ImportFormatError",
    "ImportReport",
    "Match",
    "Matcher",
    "MatcherStatus",
    "SkippedLine",
    "check_bank_name",
    "detect_format",
    "file_signals",
    "import_hash_list",
    "matcher_cache_dir",
    "open_matcher",
    "parse_lookup_signal",
    "read_records",
    "save_snapshot",
    "suppress_negative",
    "write_records",
]
