"""`crmctl lead import` against a real lead server: per-row errors by CSV line, and a re-run of
the same file changes nothing."""

from __future__ import annotations

import pytest

from crm_common import crmctl

CSV = """full_name,phone,email,product,campaign_id,utm_source,consent
Nguyễn Văn An,0912 345 678,an@example.com,credit_card,tet-2027,facebook,yes
Trần Thị Bình,not a phone,binh@example.com,MORTGAGE,tet-2027,google,no
Lê Văn Cường,0168 123 4567,,unsecured_loan,,zalo,1
Phạm Thu Hà,+84 912-345-678,ha@example.com,CASA,,,
"""


def test_import_a_csv_twice(app, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(CSV, encoding="utf-8")
    monkeypatch.setenv("LEAD_GRPC_TARGET", f"127.0.0.1:{app.server.port}")
    assert crmctl.main(["lead", "import", str(path), "--role", "marketing"]) == 0
    out, summary = capsys.readouterr()
    assert "line 3: contact.phone: not a phone number\n" in out
    assert "line 5: duplicate of open lead" in out  # same phone as line 2
    assert "4 rows: 2 created, 1 duplicates, 1 invalid" in summary
    assert app.count("leads") == 2
    assert crmctl.main(["lead", "import", str(path), "--role", "marketing"]) == 0
    assert "4 rows: 2 created, 1 duplicates, 1 invalid" in capsys.readouterr().err
    assert app.count("leads") == 2


def test_unknown_columns_are_refused(app, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("name,mobile\nA,0912345678\n", encoding="utf-8")
    monkeypatch.setenv("LEAD_GRPC_TARGET", f"127.0.0.1:{app.server.port}")
    assert crmctl.main(["lead", "import", str(path)]) == 2
    assert "unknown columns" in capsys.readouterr().err
    assert app.count("leads") == 0
