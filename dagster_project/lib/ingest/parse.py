"""The SQL that reads a REES46 file: a fast path for clean files, and an exact line-by-line parse.

DuckDB's CSV reader skips blank lines (shifting every later line number) and accepts other
notations for numbers (`2.05301355563188E+18` as a BIGINT, `1.234` rounded to DECIMAL(18,2)).
So the file is read as one VARCHAR column per physical line (blank lines arrive as NULL),
numbered in file order, split on commas and cast in SQL; a line is loaded only when it matches
the exact format, and every other line gets the first reason it fails. That costs ~1.7x a bare
read, so clean files (the common case) take the fast path first: DuckDB's parallel CSV reader
with the same exactness rules on the value columns (`fast_rows_sql`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from dagster_project.lib.ingest.schema import KNOWN_EVENT_TYPES, SOURCE_COLUMNS, TIMESTAMP_FORMAT

# A separator that never occurs in a text file: each physical line is one value. A line that
# does contain it is rejected by the reader (too many columns) with its line number.
LINE_SEPARATOR = "\\x01"

FIELDS = 9


@dataclass(frozen=True)
class DayRange:
    """The days that have a partition: rows of other days are rejected, never loaded unbuilt."""

    first: date
    last: date

    @classmethod
    def from_settings(cls, partitions_start: str, today: date | None = None) -> DayRange:
        # The last day partition is today (UTC): the partitions end one day after today's start.
        return cls(date.fromisoformat(partitions_start), today or datetime.now(UTC).date())


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# What TIMESTAMP_FORMAT adds after DuckDB's own text for a whole-second timestamp.
_TIME_SUFFIX = TIMESTAMP_FORMAT.removeprefix("%Y-%m-%d %H:%M:%S")
assert _TIME_SUFFIX == " UTC", "_time_as_written assumes the REES46 timestamp format"


def _time_as_written(text: str) -> str:
    """`event_time` (parsed from `text` with TIMESTAMP_FORMAT) prints back as `text`: the same
    rule as strftime with that format (no fractions can be parsed), but DuckDB's cast to text is
    cheaper than strftime (~1.5 CPU-s of a 10M-line load). `||`, not concat(): a null time
    (the text did not parse) must stay null, never match a field that reads ' UTC'."""
    return f"cast(event_time as varchar) || '{_TIME_SUFFIX}' = {text}"


# Columns the fast path reads as text, to check each value is written exactly before casting.
_AS_TEXT = ("event_time", "product_id", "category_id", "price", "user_id")


def fast_rows_sql(path: Path, days: DayRange, numbered: bool = False) -> str:
    """The fast path for clean files: DuckDB's own parallel CSV reader, one row per data line in
    file order, only rows whose every value is written exactly as `ok_sql` demands (it never
    loads a line the line-by-line parse would reject). No line numbers: a window function would
    make the read single-threaded; the loader numbers the rows by their order of insertion, and
    uses this path only when every physical line was loaded (no line was skipped: blank,
    unreadable, rejected). Otherwise it discards these rows and parses line by line
    (`parsed_lines_sql`). `numbered` adds `line_no` (header = 1), for files DuckDB reads on
    one thread anyway (small or gzip): it saves the loader an update."""
    columns = ", ".join(
        f"'{name}': '{'VARCHAR' if name in _AS_TEXT else type_}'"
        for name, type_ in SOURCE_COLUMNS.items()
    )
    # The reader drops lines it cannot take (wrong field count, invalid UTF-8) and blank lines:
    # the counts then differ and the loader falls back. quote = '' keeps `"` in the values,
    # where the checks below reject it (REES46 fields are never quoted). strict_mode makes a
    # lone carriage return an error (the loader then parses line by line) instead of a split
    # that could offset a skipped line in the counts.
    read = (
        f"read_csv({_quote(str(path))}, header = true, auto_detect = false, delim = ',', "
        f"quote = '', escape = '', columns = {{{columns}}}, ignore_errors = true, "
        "strict_mode = true)"
    )
    known = ", ".join(_quote(t) for t in KNOWN_EVENT_TYPES)
    # The text columns are cast, and each value must print back as written (as in `ok_sql`;
    # cheaper in DuckDB than a regexp or translate()).
    typed = f"""
        select {"row_number() over () + 1 as line_no," if numbered else ""}
            event_time as t, product_id as p, category_id as c, price as m, user_id as u,
            try_strptime(t, '{TIMESTAMP_FORMAT}') as event_time,
            event_type,
            try_cast(p as bigint) as product_id,
            try_cast(nullif(c, '') as bigint) as category_id,
            category_code, brand,
            try_cast(nullif(m, '') as decimal(18, 2)) as price,
            try_cast(u as bigint) as user_id,
            user_session
        from {read}"""
    return f"""select * exclude (t, p, c, m, u) from ({typed})
        where coalesce({_time_as_written("t")}
            and event_type in ({known})
            and cast(product_id as varchar) = p
            and (c is null or cast(category_id as varchar) = c)
            and (m is null or starts_with(cast(price as varchar), m))
            and cast(user_id as varchar) = u
            and not contains(concat(category_code, brand, user_session), '"')
            and cast(event_time as date) between date '{days.first}' and date '{days.last}',
            false)"""


def read_lines_sql(path: Path, rejects_table: str, rejects_scan: str) -> str:
    return (
        f"read_csv({_quote(str(path))}, columns = {{'line': 'VARCHAR'}}, header = false, "
        f"auto_detect = false, delim = '{LINE_SEPARATOR}', quote = '', escape = '', "
        f"store_rejects = true, rejects_table = '{rejects_table}', "
        f"rejects_scan = '{rejects_scan}')"
    )


def parsed_lines_sql(path: Path, rejects_table: str, rejects_scan: str, days: DayRange) -> str:
    """One row per data line: `line_no` (reader order, the header is 1), the text, its fields,
    the typed columns and `ok`. The line numbering sits below the parse, so that the split is
    computed once per line even where filters repeat the expressions."""
    numbered = (
        "select row_number() over () as line_no, line, string_split(line, ',') as f "
        f"from {read_lines_sql(path, rejects_table, rejects_scan)}"
    )
    typed = f"""
        select line_no, line, f,
            try_strptime(f[1], '{TIMESTAMP_FORMAT}') as event_time,
            nullif(f[2], '') as event_type,
            try_cast(f[3] as bigint) as product_id,
            try_cast(nullif(f[4], '') as bigint) as category_id,
            nullif(f[5], '') as category_code,
            nullif(f[6], '') as brand,
            try_cast(nullif(f[7], '') as decimal(18, 2)) as price,
            try_cast(f[8] as bigint) as user_id,
            nullif(f[9], '') as user_session
        from ({numbered})
        where line_no > 1"""
    return f"select *, {ok_sql(days)} as ok from ({typed})"


def ok_sql(days: DayRange) -> str:
    """A line is loaded only if every value reads back exactly as written: the cast value
    printed again must be the field (so `2.05301355563188E+18`, `+12` or `1e3` never become a
    different integer, and `2019-10-1 1:00:00 UTC` is not a timestamp). Cheaper than a regex."""
    known = ", ".join(_quote(t) for t in KNOWN_EVENT_TYPES)
    return f"""coalesce(
            len(f) = {FIELDS} and not contains(line, '"')
            and {_time_as_written("f[1]")}
            and f[2] in ({known})
            and cast(product_id as varchar) = f[3]
            and (f[4] = '' or cast(category_id as varchar) = f[4])
            and (f[7] = '' or {_price_as_written()})
            and cast(user_id as varchar) = f[8]
            and cast(event_time as date) between date '{days.first}' and date '{days.last}',
            false)"""


def _price_as_written() -> str:
    # DECIMAL(18,2) prints two decimals, so the field written exactly is a prefix of the printed
    # value (`35.8` -> `35.80`, `35` -> `35.00`); `1.234` (-> `1.23`) or `1e2` are not.
    return "starts_with(cast(price as varchar), f[7])"


def reason_sql(days: DayRange) -> str:
    """Why a line that is not `ok` was rejected: the first rule it breaks."""
    known = ", ".join(_quote(t) for t in KNOWN_EVENT_TYPES)
    day = "cast(event_time as date)"

    def integer(column: str, index: int) -> str:
        return f"cast({column} as varchar) is distinct from f[{index}]"

    return f"""case
        when line is null or line = '' then 'blank line'
        when contains(line, '"') then 'quoted field (REES46 fields are never quoted)'
        when len(f) <> {FIELDS} then 'expected {FIELDS} fields, found ' || len(f)
        when f[1] = '' then 'missing event_time'
        when not coalesce({_time_as_written("f[1]")}, false)
            then 'event_time is not YYYY-MM-DD HH:MM:SS UTC'
        when f[2] = '' then 'missing event_type'
        when f[2] not in ({known}) then 'unknown event_type ' || f[2]
        when f[3] = '' then 'missing product_id'
        when {integer("product_id", 3)} then 'product_id is not an integer'
        when f[4] <> '' and ({integer("category_id", 4)}) then 'category_id is not an integer'
        when f[7] <> '' and regexp_full_match(f[7], '-?[0-9]*\\.[0-9]{{3,}}')
            then 'price has more than 2 decimal places'
        when f[7] <> '' and not coalesce({_price_as_written()}, false)
            then 'price is not a decimal number'
        when f[8] = '' then 'missing user_id'
        when {integer("user_id", 8)} then 'user_id is not an integer'
        when {day} < date '{days.first}'
            then 'event_time before ESTORE_PARTITIONS_START ({days.first})'
        when {day} > date '{days.last}'
            then 'event_time after {days.last} (today, UTC): no day partition for it yet'
        else 'not a REES46 row'
    end"""
