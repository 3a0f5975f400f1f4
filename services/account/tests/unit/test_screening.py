"""Watchlist screening: loading the bank's list files, and fuzzy name matching with dates of birth.

Pure unit tests: list files are written to tmp_path; no database, no service.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date
from pathlib import Path

import pytest
from rapidfuzz import fuzz

from crm_account.domain.screening import (
    COLUMNS,
    ListKind,
    ScreeningHit,
    Watchlist,
    WatchlistEntry,
    WatchlistError,
    load_watchlist,
    needs_review,
    screen,
)

HEADER = ",".join(COLUMNS)
CSV_TEXT = f"""{HEADER}
UN-001,SANCTIONS,NGUYEN VAN ANH,Nguyen Van A|Anh Nguyen,1985-03-01,vn,UN,Arms trafficking
SBV-PEP-7,PEP,Trần Thị Bích Ngọc,,1960,VN,SBV,Deputy minister
OFAC-42,sanctions,"DOE, John",Johnny Doe|,,US,OFAC,"Fraud, money laundering"
"""
JSONL_LINES = [
    {
        "entry_id": "UN-001",
        "kind": "SANCTIONS",
        "name": "NGUYEN VAN ANH",
        "aliases": ["Nguyen Van A", "Anh Nguyen"],
        "date_of_birth": "1985-03-01",
        "nationality": "vn",
        "source": "UN",
        "reason": "Arms trafficking",
    },
    {
        "entry_id": "SBV-PEP-7",
        "kind": "PEP",
        "name": "Trần Thị Bích Ngọc",
        "aliases": [],
        "date_of_birth": "1960",
        "nationality": "VN",
        "source": "SBV",
        "reason": "Deputy minister",
    },
    # Keys left out are empty; a year may be a JSON number.
    {"entry_id": "OFAC-42", "kind": "sanctions", "name": "DOE, John", "aliases": ["Johnny Doe"], "nationality": "US", "source": "OFAC"},
]

UN_001 = WatchlistEntry(
    entry_id="UN-001",
    kind=ListKind.SANCTIONS,
    names=("NGUYEN VAN ANH", "Nguyen Van A", "Anh Nguyen"),
    date_of_birth=date(1985, 3, 1),
    year_of_birth=1985,
    nationality="VN",
    source="UN",
    reason="Arms trafficking",
)
PEP_7 = WatchlistEntry(
    entry_id="SBV-PEP-7",
    kind=ListKind.PEP,
    names=("Trần Thị Bích Ngọc",),
    date_of_birth=None,
    year_of_birth=1960,
    nationality="VN",
    source="SBV",
    reason="Deputy minister",
)


def write(tmp_path: Path, text: str, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def entry(entry_id: str, *names: str, born: date | None = None, year: int | None = None) -> WatchlistEntry:
    return WatchlistEntry(entry_id, ListKind.SANCTIONS, names, born, born.year if born else year, "", "UN", "listed")


def watchlist(*entries: WatchlistEntry) -> Watchlist:
    return Watchlist(entries, version="test")


@pytest.fixture
def listed() -> Watchlist:
    """The two people of the sample files."""
    return watchlist(UN_001, PEP_7)


# Loading


def test_loads_a_csv_list(tmp_path: Path) -> None:
    path = write(tmp_path, CSV_TEXT)

    loaded = load_watchlist(path)

    assert len(loaded) == 3
    assert loaded.entries[:2] == (UN_001, PEP_7)
    ofac = loaded.entries[2]
    # A quoted comma stays in the name; a trailing '|' adds no empty alias.
    assert ofac.names == ("DOE, John", "Johnny Doe")
    assert ofac.kind is ListKind.SANCTIONS
    assert (ofac.date_of_birth, ofac.year_of_birth) == (None, None)
    assert ofac.reason == "Fraud, money laundering"
    assert loaded.version == hashlib.sha256(path.read_bytes()).hexdigest()


def test_loads_a_jsonl_list_to_the_same_entries(tmp_path: Path) -> None:
    text = jsonl(JSONL_LINES[:2]) + "\n" + jsonl(JSONL_LINES[2:])

    path = write(tmp_path, text, "list.jsonl")

    loaded = load_watchlist(path)

    assert loaded.entries[:2] == (UN_001, PEP_7)
    assert loaded.entries[2].names == ("DOE, John", "Johnny Doe")
    assert loaded.entries[2].reason == ""
    assert loaded.version == hashlib.sha256(path.read_bytes()).hexdigest()


def test_accepts_a_year_given_as_a_json_number(tmp_path: Path) -> None:
    loaded = load_watchlist(write(tmp_path, jsonl([{**JSONL_LINES[1], "date_of_birth": 1960}]), "list.jsonl"))

    assert (loaded.entries[0].date_of_birth, loaded.entries[0].year_of_birth) == (None, 1960)


def test_reads_a_spreadsheet_export_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV_TEXT.replace("\n", "\r\n").encode())

    assert load_watchlist(path).entries[:2] == (UN_001, PEP_7)


CSV_ROW = "UN-002,SANCTIONS,Le Van Binh,,1970,VN,UN,listed"


@pytest.mark.parametrize(
    ("rows", "line", "detail"),
    [
        ([",SANCTIONS,Le Van Binh,,,,UN,listed"], 2, "entry_id is empty"),
        ([CSV_ROW, "", CSV_ROW], 4, "entry_id 'UN-002' already used on line 2"),
        ([CSV_ROW.replace("SANCTIONS", "TERRORIST")], 2, "kind 'TERRORIST' is not one of SANCTIONS, PEP"),
        ([CSV_ROW, CSV_ROW.replace("UN-002,SANCTIONS,Le Van Binh,", "UN-003,PEP, ,")], 3, "name is empty"),
        ([CSV_ROW.replace(",Le Van Binh,", ",Le Van Binh,--|"), CSV_ROW], 2, "name '--' has no letters or digits"),
        ([CSV_ROW.replace("1970", "1985-02-30")], 2, "date_of_birth '1985-02-30' is not a valid YYYY-MM-DD or YYYY"),
        ([CSV_ROW.replace("1970", "01/02/1985")], 2, "date_of_birth '01/02/1985' is not a valid YYYY-MM-DD or YYYY"),
        ([CSV_ROW.replace("1970", "0000")], 2, "date_of_birth '0000' is not a valid YYYY-MM-DD or YYYY"),
        ([CSV_ROW.replace(",VN,", ",VNM,")], 2, "nationality 'VNM' is not an ISO 3166 alpha-2 code"),
        ([CSV_ROW, CSV_ROW.replace("UN-002", "UN-003") + ",extra"], 3, "9 fields, the header has 8"),
        # The record starts on line 2 though its quoted reason runs over to line 3.
        ([CSV_ROW.replace("listed", '"listed\non two lines"'), "UN-003,SANCTIONS,Lê,,x,VN,UN,listed"], 4, "date_of_birth 'x'"),
        ([CSV_ROW, 'UN-003,PEP,"Le Van Binh,,1970,VN,UN,listed'], 3, "malformed CSV"),
    ],
)
def test_csv_errors_name_the_line(tmp_path: Path, rows: list[str], line: int, detail: str) -> None:
    path = write(tmp_path, "\n".join([HEADER, *rows]) + "\n")

    with pytest.raises(WatchlistError) as raised:
        load_watchlist(path)

    assert raised.value.line == line
    assert str(raised.value).startswith(f"list.csv line {line}: {detail}")


def test_csv_header_must_name_every_column(tmp_path: Path) -> None:
    path = write(tmp_path, "\n" + HEADER.replace("aliases", "aliasses") + "\n" + CSV_ROW + "\n")

    with pytest.raises(WatchlistError, match=r"list\.csv line 2: header .*missing aliases; unknown aliasses") as raised:
        load_watchlist(path)

    assert raised.value.line == 2


@pytest.mark.parametrize(
    ("replace", "detail"),
    [
        ({"kind": "PEPS"}, "kind 'PEPS' is not one of SANCTIONS, PEP"),
        ({"aliases": "Nguyen Van A|Anh Nguyen"}, "aliases must be a list of strings"),
        ({"name": 42}, "name must be a string"),
        ({"date_of_birth": "1985-3-1"}, "date_of_birth '1985-3-1' is not a valid YYYY-MM-DD or YYYY"),
        ({"entry_id": "SBV-PEP-7"}, "entry_id 'SBV-PEP-7' already used on line 2"),
        ({"alias": []}, "unknown keys ['alias']"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path: Path, replace: dict[str, object], detail: str) -> None:
    path = write(tmp_path, jsonl([JSONL_LINES[2], JSONL_LINES[1], {**JSONL_LINES[0], **replace}]), "list.jsonl")

    with pytest.raises(WatchlistError) as raised:
        load_watchlist(path)

    assert raised.value.line == 3
    assert str(raised.value).startswith(f"list.jsonl line 3: {detail}")


@pytest.mark.parametrize(("text", "detail"), [('{"entry_id": "A",\n', "invalid JSON"), ('["A", "PEP"]\n', "expected a JSON object")])
def test_jsonl_lines_must_be_objects(tmp_path: Path, text: str, detail: str) -> None:
    path = write(tmp_path, jsonl(JSONL_LINES[:1]) + text, "list.jsonl")

    with pytest.raises(WatchlistError, match=rf"^list\.jsonl line 2: {detail}"):
        load_watchlist(path)


def test_refuses_a_file_that_is_not_utf8_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    # A Latin-1 export: "ê" is one byte that UTF-8 cannot decode.
    path.write_bytes(f"{HEADER}\n{CSV_ROW}\n".encode() + "UN-003,PEP,Lê Binh,,,VN,SBV,x\n".encode("latin-1"))

    with pytest.raises(WatchlistError, match=r"^list\.csv line 3: not UTF-8$"):
        load_watchlist(path)


@pytest.mark.parametrize("name", ["list.xlsx", "list.json", "list"])
def test_refuses_other_file_types(tmp_path: Path, name: str) -> None:
    with pytest.raises(WatchlistError, match=r"expected \.csv or \.jsonl"):
        load_watchlist(write(tmp_path, CSV_TEXT, name))


@pytest.mark.parametrize(("name", "text"), [("list.csv", HEADER + "\n\n"), ("list.jsonl", "\n")])
def test_refuses_an_empty_list(tmp_path: Path, name: str, text: str) -> None:
    # Screening against an empty list would clear everyone.
    with pytest.raises(WatchlistError, match="no entries"):
        load_watchlist(write(tmp_path, text, name))


def test_a_list_built_in_code_is_checked_too() -> None:
    with pytest.raises(WatchlistError, match="entry_id 'UN-001' is used twice"):
        watchlist(UN_001, UN_001)
    with pytest.raises(WatchlistError, match="entry 'UN-9' has no name"):
        watchlist(entry("UN-9"))
    with pytest.raises(WatchlistError, match="entry 'UN-9': name '-' has no letters or digits"):
        watchlist(entry("UN-9", "Le Van Binh", "-"))
    with pytest.raises(WatchlistError, match="year_of_birth 1990 is not the year of 1985-03-01"):
        watchlist(WatchlistEntry("UN-9", ListKind.PEP, ("Le Van Binh",), date(1985, 3, 1), 1990, "", "", ""))


def test_version_follows_the_file_content(tmp_path: Path) -> None:
    first = load_watchlist(write(tmp_path, CSV_TEXT))
    again = load_watchlist(write(tmp_path, CSV_TEXT))
    changed = load_watchlist(write(tmp_path, CSV_TEXT.replace("1960", "1961")))

    assert first.version == again.version
    assert changed.version != first.version
    assert len(changed.version) == 64


# Matching names


def test_matches_regardless_of_diacritics_and_case(listed: Watchlist) -> None:
    [hit] = screen(listed, "Nguyễn Văn Ánh", None)

    assert hit.entry is UN_001
    assert hit.matched_name == "NGUYEN VAN ANH"
    assert hit.score == 100.0
    assert hit.reasons == ("name 100.0 similar to name 'NGUYEN VAN ANH'", "the customer's date of birth is unknown: not compared")


def test_folds_d_with_stroke_and_ignores_punctuation() -> None:
    listed = watchlist(entry("UN-5", "DANG DUC DAT"), entry("UN-6", "O'Neil, Mary-Jane"))

    assert [hit.score for hit in screen(listed, "Đặng Đức Đạt", None)] == [100.0]
    # Ð (eth) typed for Đ.
    assert [hit.score for hit in screen(listed, "ÐẶNG ÐỨC ÐẠT", None)] == [100.0]
    assert [hit.entry.entry_id for hit in screen(listed, "Mary Jane ONeil", None)] == ["UN-6"]


@pytest.mark.parametrize("name", ["Anh Nguyen Van", "Van Anh Nguyen", "ÁNH, Nguyễn Văn"])
def test_matches_regardless_of_word_order(listed: Watchlist, name: str) -> None:
    assert [(hit.entry.entry_id, hit.score) for hit in screen(listed, name, None)] == [("UN-001", 100.0)]


def test_matches_an_alias_and_says_so(listed: Watchlist) -> None:
    [hit] = screen(listed, "Nguyễn Văn A", None)

    assert hit.matched_name == "Nguyen Van A"
    assert hit.reasons[0] == "name 100.0 similar to alias 'Nguyen Van A'"


def test_a_near_name_scores_its_token_sort_similarity(listed: Watchlist) -> None:
    [hit] = screen(listed, "Nguyễn Văn Ánn", None)

    expected = fuzz.token_sort_ratio("nguyen van ann", "nguyen van anh")
    assert 90 < expected < 95
    assert hit.score == round(expected, 1)
    assert hit.reasons[0] == f"name {expected:.1f} similar to name 'NGUYEN VAN ANH'"


@pytest.mark.parametrize("name", ["Trần Văn Bình", "Nguyễn Thị Hương", "Phạm Minh Chính", "John Doe"])
def test_a_different_name_does_not_hit(listed: Watchlist, name: str) -> None:
    assert screen(listed, name, None) == []


# Dates of birth


def test_the_same_date_of_birth_raises_the_score(listed: Watchlist) -> None:
    [hit] = screen(listed, "Nguyễn Văn Ánn", date(1985, 3, 1))

    assert hit.score == round(fuzz.token_sort_ratio("nguyen van ann", "nguyen van anh") + 5, 1)
    assert hit.reasons[1] == "date of birth matches (1985-03-01): score raised by 5"


def test_the_score_never_exceeds_100(listed: Watchlist) -> None:
    [hit] = screen(listed, "Nguyễn Văn Ánh", date(1985, 3, 1))

    assert hit.score == 100.0


@pytest.mark.parametrize(("listed_entry", "name"), [(UN_001, "Nguyễn Văn Ánn"), (PEP_7, "Trần Thị Bích Ngọt")])
def test_the_same_year_raises_the_score_a_little(listed_entry: WatchlistEntry, name: str) -> None:
    # UN-001 knows the full date (a different day here); SBV-PEP-7 only the year.
    year = listed_entry.year_of_birth
    assert year is not None
    [without] = screen(watchlist(listed_entry), name, None)
    [hit] = screen(watchlist(listed_entry), name, date(year, 12, 31))

    assert hit.score == round(without.score + 2, 1)
    assert hit.reasons[1] == f"year of birth matches ({year}): score raised by 2"


def test_a_different_year_lowers_the_score(listed: Watchlist) -> None:
    [hit] = screen(listed, "Trần Thị Bích Ngọc", date(1985, 6, 1), threshold=80)

    assert hit.score == 85.0
    assert hit.reasons[1] == "year of birth differs (list 1960, customer 1985): score lowered by 15"
    # A near name born decades apart is no longer a hit at the default threshold.
    assert screen(listed, "Trần Thị Bích Ngọt", date(1985, 6, 1)) == []
    assert screen(listed, "Trần Thị Bích Ngọt", None) != []


def test_an_entry_without_a_date_of_birth_is_scored_by_name_alone() -> None:
    [hit] = screen(watchlist(entry("UN-5", "Le Van Binh")), "Lê Văn Bình", date(1990, 1, 1))

    assert hit.score == 100.0
    assert hit.reasons[1] == "the list gives no date of birth: not compared"


# Threshold, short names, order


def test_only_hits_at_or_above_the_threshold(listed: Watchlist) -> None:
    score = round(fuzz.token_sort_ratio("nguyen van ann", "nguyen van anh"), 1)

    assert [hit.score for hit in screen(listed, "Nguyen Van Ann", None, threshold=score)] == [score]
    assert screen(listed, "Nguyen Van Ann", None, threshold=score + 0.1) == []


def test_a_matching_date_of_birth_can_lift_a_name_over_the_threshold() -> None:
    listed = watchlist(entry("UN-7", "Hoang Van Nam", born=date(1985, 3, 1)))
    # Without the middle name: 81.8, under the default 85 on the name alone.
    assert screen(listed, "Hoàng Nam", None) == []

    [hit] = screen(listed, "Hoàng Nam", date(1985, 3, 1))

    assert hit.score == 86.8
    assert hit.reasons == ("name 81.8 similar to name 'Hoang Van Nam'", "date of birth matches (1985-03-01): score raised by 5")


@pytest.mark.parametrize("threshold", [0, -1, 100.5])
def test_the_threshold_must_be_a_score(listed: Watchlist, threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        screen(listed, "Nguyen Van Anh", None, threshold=threshold)


def test_a_very_short_name_only_matches_exactly() -> None:
    listed = watchlist(
        entry("UN-1", "Ly"),
        entry("UN-2", "Lý A"),
        entry("UN-3", "A Ly Ba"),
        entry("UN-4", "An"),
        entry("UN-5", "Le Van Ly"),
        entry("UN-6", "Y"),
    )

    assert screen(listed, "A", None, threshold=1) == []
    assert [hit.entry.entry_id for hit in screen(listed, "Lý", None, threshold=1)] == ["UN-1"]
    assert [hit.entry.entry_id for hit in screen(listed, "y.", None, threshold=1)] == ["UN-6"]
    # A longer name is never matched fuzzily against the short listed names.
    assert "UN-1" not in [hit.entry.entry_id for hit in screen(listed, "Lyn", None, threshold=1)]


@pytest.mark.parametrize("name", ["", "   ", "--"])
def test_a_name_without_letters_hits_nothing(listed: Watchlist, name: str) -> None:
    assert screen(listed, name, None, threshold=1) == []


def test_hits_are_sorted_best_first() -> None:
    listed = watchlist(
        entry("C", "Hoang Van Nam"),
        entry("B", "Hoang Van Lam"),
        entry("A", "Hoang Van Nam", year=1990),
        entry("D", "Hoang Van Nam", year=1970),
        entry("E", "Tran Van Nam"),
    )

    hits = screen(listed, "Hoàng Văn Nam", date(1990, 5, 5), threshold=50)

    # D has the very name, but born 20 years apart it falls below a near name; ties by entry_id.
    assert [(hit.entry.entry_id, hit.score) for hit in hits] == [("A", 100.0), ("C", 100.0), ("B", 92.3), ("D", 85.0), ("E", 56.0)]


def test_an_entry_is_reported_once_under_its_best_name() -> None:
    listed = watchlist(entry("UN-1", "Nguyen Van Anh", "Nguyen Van Ann", "Anh Nguyen"))

    [hit] = screen(listed, "Nguyen Van Ann", None, threshold=50)

    assert hit.matched_name == "Nguyen Van Ann"
    assert hit.score == 100.0


def test_any_hit_needs_review(listed: Watchlist) -> None:
    assert needs_review(screen(listed, "Nguyen Van Anh", None))
    assert not needs_review(screen(listed, "Pham Minh Chinh", None))
    assert not needs_review([])
    assert isinstance(screen(listed, "Nguyen Van Anh", None)[0], ScreeningHit)


# Scale (no timing: a sanity check that the index finds one person among many)

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Xuân", "Thu", "Kim", "Gia", "Công", "Đình"]
GIVEN = ["An", "Anh", "Bình", "Chi", "Cường", "Dũng", "Hà", "Hải", "Hằng", "Hiếu", "Hoa", "Hùng", "Hương", "Lan", "Linh"]
GIVEN += ["Long", "Mai", "Minh", "Nam", "Nga", "Phong", "Phương", "Quân", "Sơn", "Thảo", "Trang", "Tuấn", "Vân", "Việt", "Yến"]


def test_finds_the_planted_person_among_20000(tmp_path: Path) -> None:
    rng = random.Random(20)
    rows = [HEADER]
    for number in range(20_000):
        name = " ".join([rng.choice(FAMILY), rng.choice(MIDDLE), rng.choice(GIVEN)])
        rows.append(f"S-{number},SANCTIONS,{name},,{rng.randint(1940, 2000)},VN,SBV,synthetic")
    rows.insert(12_345, "PLANTED,PEP,Phùng Thế Vĩnh Khang,Phung The Khang,1972-08-19,VN,SBV,planted")
    listed = load_watchlist(write(tmp_path, "\n".join(rows) + "\n"))

    hits = screen(listed, "Khang Vinh The Phung", date(1972, 8, 19))

    assert len(listed) == 20_001
    assert hits[0].entry.entry_id == "PLANTED"
    assert hits[0].score == 100.0
    assert [hit.entry.entry_id for hit in screen(listed, "Phùng Thế Khang", None)] == ["PLANTED"]
