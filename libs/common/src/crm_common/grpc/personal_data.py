"""`crm.privacy.v1.PersonalDataService`, the same for every service holding a person's data:
the servicer a participant's composition root binds (`personal_data_binding(provider)`), and
the client the coordinator (the account service) gathers the sections with.

The client calls every participant at once, through `crm_common.grpc.client` (the caller's
token, trace and remaining deadline travel along), and fails the whole export with UNAVAILABLE
naming each participant that did not answer: an export handed to a data subject must be
complete, and the privacy officer can retry (docs/security.md, data-subject rights).
"""

from __future__ import annotations

import contextvars
import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from crm.privacy.v1 import personal_data_service_pb2, personal_data_service_pb2_grpc
from crm_common.auth import Access, Scope
from crm_common.errors import Unavailable
from crm_common.grpc.client import open_channel
from crm_common.grpc.server import ServiceBinding
from crm_common.privacy import PERSONAL_DATA_EXPORT, PersonalDataProvider, PersonIdentifiers

# A participant's section must arrive within this, and within the caller's own deadline.
EXPORT_TIMEOUT_SECONDS = 10.0


class PersonalDataServicer(personal_data_service_pb2_grpc.PersonalDataServiceServicer):
    def __init__(self, service: str, provider: PersonalDataProvider) -> None:
        self.service = service
        self.provider = provider

    def ExportPersonalData(
        self, request: personal_data_service_pb2.ExportPersonalDataRequest, context: grpc.ServicerContext
    ) -> personal_data_service_pb2.ExportPersonalDataResponse:
        section = self.provider.export_personal_data(PersonIdentifiers.from_proto(request.person))
        document = json.dumps(section, ensure_ascii=False, default=str).encode()
        return personal_data_service_pb2.ExportPersonalDataResponse(service=self.service, document=document)


def personal_data_binding(service: str, provider: PersonalDataProvider) -> ServiceBinding:
    """The binding a participant adds to its API (bootstrap with serve=True)."""
    return ServiceBinding.for_service(
        personal_data_service_pb2.DESCRIPTOR.services_by_name["PersonalDataService"],
        PersonalDataServicer(service, provider),
        personal_data_service_pb2_grpc.add_PersonalDataServiceServicer_to_server,
        # Bank-wide by design: the person is named by their identifiers, whoever's book they are in.
        {"ExportPersonalData": Access(PERSONAL_DATA_EXPORT, Scope.BANK)},
    )


def participant_targets(participants: tuple[str, ...], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Where each participant's API listens: `<NAME>_GRPC_TARGET` (the chart and `make up` set
    it), else the registry's local port. A participant with neither stops the start."""
    environ = os.environ if environ is None else environ
    targets: dict[str, str] = {}
    missing = []
    for name in participants:
        variable = f"{name.upper().replace('-', '_')}_GRPC_TARGET"
        if environ.get(variable):
            targets[name] = environ[variable]
            continue
        from crm_common.registry import service

        try:
            targets[name] = f"127.0.0.1:{service(name).grpc_port}"
        except KeyError:
            missing.append(variable)
    if missing:
        from crm_common.settings import ConfigError

        raise ConfigError(f"the services holding personal data need their address: set {', '.join(missing)}")
    return targets


class PersonalDataClient:
    """Gathers every participant's section of a person's export."""

    def __init__(self, targets: Mapping[str, str], timeout_seconds: float = EXPORT_TIMEOUT_SECONDS) -> None:
        self.timeout_seconds = timeout_seconds
        self.channels = {name: open_channel(target) for name, target in targets.items()}
        self.stubs = {name: personal_data_service_pb2_grpc.PersonalDataServiceStub(channel) for name, channel in self.channels.items()}

    def export(self, person: PersonIdentifiers) -> dict[str, dict[str, Any]]:
        """Each participant's section by service name; Unavailable naming every one that failed."""
        if not self.stubs:
            return {}
        request = personal_data_service_pb2.ExportPersonalDataRequest(person=person.to_proto())

        def ask(name: str) -> dict[str, Any]:
            reply = self.stubs[name].ExportPersonalData(request, timeout=self.timeout_seconds)
            section = json.loads(reply.document or b"{}")
            if not isinstance(section, dict):
                raise ValueError("the section is not a JSON object")
            return section

        sections: dict[str, dict[str, Any]] = {}
        failures: list[str] = []
        with ThreadPoolExecutor(max_workers=len(self.stubs), thread_name_prefix="personal-data") as pool:
            # Each call runs in a copy of this context: the caller's principal and deadline.
            futures = {name: pool.submit(contextvars.copy_context().run, ask, name) for name in sorted(self.stubs)}
            for name, future in futures.items():
                try:
                    sections[name] = future.result()
                except grpc.RpcError as exc:
                    failures.append(f"{name} ({exc.code().name}: {exc.details()})")
                except ValueError as exc:
                    failures.append(f"{name} ({exc})")
        if failures:
            raise Unavailable(f"the export is incomplete, retry later: no section from {'; '.join(failures)}")
        return sections

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
