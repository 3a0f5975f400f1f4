"""Lead scoring: configurable rules over channel, completeness, product interest and behaviour.

Every point comes with a reason, so marketing and sales can see why a lead scored what it did.
The rules are data (a JSON file, LEAD_SCORING_RULES_FILE); DEFAULT_RULES ship with the service.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_lead.domain.model import Lead, ScoreReason

DEFAULT_RULES: dict[str, Any] = {
    "channel": {
        "REFERRAL": 20,
        "BRANCH": 20,
        "CALL_CENTER": 15,
        "MOBILE_APP": 15,
        "WEB_FORM": 10,
        "LANDING_PAGE": 10,
        "PARTNER": 10,
        "EVENT": 10,
        "EMAIL": 5,
        "SMS": 5,
        "SOCIAL": 5,
        "IMPORT": 0,
    },
    "data_origin": {"FIRST_PARTY": 5, "SECOND_PARTY": 0, "THIRD_PARTY": -10},
    "completeness": {"full_name": 5, "phone": 10, "email": 5, "national_id": 10, "province_code": 2},
    "mobile_phone": 5,
    "marketing_consent": 5,
    "product_interest": {
        "MORTGAGE": 15,
        "UNSECURED_LOAN": 10,
        "AUTO_LOAN": 10,
        "CREDIT_CARD": 10,
        "TERM_DEPOSIT": 8,
        "BANCASSURANCE": 5,
        "CASA": 5,
    },
    # Points per behaviour event, capped per kind so one busy visitor cannot max the score.
    "behaviour": {
        "PAGE_VIEW": {"points": 1, "max": 5},
        "PRICING_VIEW": {"points": 5, "max": 15},
        "CALCULATOR_USED": {"points": 8, "max": 16},
        "EMAIL_OPENED": {"points": 2, "max": 6},
        "EMAIL_CLICKED": {"points": 4, "max": 12},
        "FORM_SUBMITTED": {"points": 10, "max": 20},
        "BRANCH_VISIT": {"points": 15, "max": 15},
    },
    "max_score": 100,
}

# Behaviour that shows interest: it can make a NEW or NURTURE lead marketing-qualified.
INTEREST_BEHAVIOURS = frozenset({"PRICING_VIEW", "CALCULATOR_USED", "FORM_SUBMITTED", "BRANCH_VISIT", "EMAIL_CLICKED"})


@dataclass(frozen=True)
class ScoringRules:
    rules: dict[str, Any]

    @classmethod
    def load(cls, path: str = "") -> ScoringRules:
        if not path:
            return cls(DEFAULT_RULES)
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path}: scoring rules must be a JSON object")
        return cls({**DEFAULT_RULES, **data})

    def score(self, lead: Lead, behaviours: Iterable[str] = ()) -> tuple[int, list[ScoreReason]]:
        r = self.rules
        reasons: list[ScoreReason] = []

        def add(rule: str, points: int, detail: str) -> None:
            if points:
                reasons.append(ScoreReason(rule, points, detail))

        channel = lead.source.channel
        add("channel", int(r["channel"].get(channel, 0)), f"captured through {channel or 'an unknown channel'}")
        origin = lead.source.data_origin
        if origin:
            add("data_origin", int(r["data_origin"].get(origin, 0)), f"{origin.lower().replace('_', ' ')} data")
        present = {
            "full_name": lead.full_name,
            "phone": lead.phone_e164,
            "email": lead.email,
            "national_id": lead.national_id,
            "province_code": lead.province_code,
        }
        for name, points in r["completeness"].items():
            if present.get(name):
                add(f"completeness.{name}", int(points), f"{name.replace('_', ' ')} given")
        if lead.phone_is_mobile:
            add("mobile_phone", int(r["mobile_phone"]), "reachable on a mobile number")
        if lead.marketing_consent:
            add("marketing_consent", int(r["marketing_consent"]), "agreed to marketing contact")
        if lead.product_interest:
            add(
                "product_interest",
                int(r["product_interest"].get(lead.product_interest, 0)),
                f"interested in {lead.product_interest.lower().replace('_', ' ')}",
            )
        for kind, count in sorted(Counter(behaviours).items()):
            rule = r["behaviour"].get(kind)
            if rule:
                points = min(int(rule["points"]) * count, int(rule["max"]))
                add(f"behaviour.{kind}", points, f"{count} × {kind.lower().replace('_', ' ')}")
        total = max(0, min(int(r["max_score"]), sum(x.points for x in reasons)))
        return total, reasons
