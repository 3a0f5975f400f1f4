"""A fake of the services that give their section of a person's export (crm_common.privacy),
as the account service's API sees them through its `personal_data` port."""

from __future__ import annotations

from typing import Any

from crm_common.errors import Unavailable
from crm_common.privacy import PersonIdentifiers


class FakeParticipants:
    """The other services' sections of an export (their PersonalDataService), as the account
    sees them: what each was asked, and who is down."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.asked: list[PersonIdentifiers] = []
        self.down: set[str] = set()

    def export(self, person: PersonIdentifiers) -> dict[str, dict[str, Any]]:
        self.asked.append(person)
        if self.down:
            raise Unavailable(f"the export is incomplete, retry later: no section from {', '.join(sorted(self.down))}")
        return {name: {"service": name, "accounts": list(person.account_ids)} for name in ("lead", "opportunity")}
