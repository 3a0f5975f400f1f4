"""`crmctl`: a person's way to drive the suite from a terminal (dev and support use).

    crmctl token --role admin                      # a dev token (dev signing key only)
    crmctl token --role sales_manager --subject sm-1 --team-claim tele-hcm   # with its data scope
    crmctl <service> <action> ...                  # the actions each service offers
    crmctl <service> --help                        # what a service offers

Each service of the registry (crm_common.registry) that declares a `ctl` module brings its own
subcommand. Targets come from <SERVICE>_GRPC_TARGET (default: the service's `make up` port);
the token from CRM_TOKEN, else one is signed with JWT_KEY (dev key by default). Replies print
as JSON.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.json_format import MessageToJson

from crm_common.auth import issue_token
from crm_common.registry import load, service, services
from crm_common.settings import DEV_JWT_KEY


def _target(name: str) -> str:
    return os.environ.get(f"{name.upper().replace('-', '_')}_GRPC_TARGET", f"127.0.0.1:{service(name).grpc_port}")


def _token(args: argparse.Namespace, ttl_seconds: int = 3600) -> str:
    """A dev-signed token for --subject with --role(s) and the --team/--branch/--territory-claim
    ids, in the claims the services read (JWT_TEAMS_CLAIM, JWT_BRANCHES_CLAIM, JWT_TERRITORIES_CLAIM)."""
    return issue_token(
        args.subject,
        [r for r in args.role.split(",") if r],
        os.environ.get("JWT_KEY", DEV_JWT_KEY),
        os.environ.get("JWT_ALGORITHM", "HS256"),
        os.environ.get("JWT_ISSUER", "crm-dev"),
        os.environ.get("JWT_AUDIENCE", "crm"),
        ttl_seconds=ttl_seconds,
        teams=args.team_claim,
        branches=args.branch_claim,
        territories=args.territory_claim,
        claim_names=(
            os.environ.get("JWT_TEAMS_CLAIM", "teams"),
            os.environ.get("JWT_BRANCHES_CLAIM", "branches"),
            os.environ.get("JWT_TERRITORIES_CLAIM", "territories"),
        ),
    )


@dataclass
class Ctl:
    """What a service's `ctl` module gets: calls with the caller's token, and request ids."""

    args: argparse.Namespace

    def call(self, name: str, stub_cls: Any, method: str, request: Any, quiet: bool = False, reply_into: list[Any] | None = None) -> int:
        """Calls `method` on service `name`; prints the reply as JSON (or the error) and returns
        the exit code."""
        token = os.environ.get("CRM_TOKEN") or _token(self.args)
        with grpc.insecure_channel(_target(name)) as channel:
            try:
                reply = getattr(stub_cls(channel), method)(request, metadata=[("authorization", f"Bearer {token}")], timeout=self.args.timeout)
            except grpc.RpcError as exc:
                from crm_common.grpc.status import field_violations

                print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)
                for field, why in field_violations(exc):
                    print(f"  {field}: {why}", file=sys.stderr)
                return 1
        if reply_into is not None:
            reply_into.append(reply)
        if not quiet:
            print(MessageToJson(reply, ensure_ascii=False, indent=2))
        return 0

    def request_id(self) -> str:
        """--request-id, or a new UUID: the idempotency key of a mutating call."""
        return str(self.args.request_id or uuid.uuid4())


def common_options(nested: bool = False) -> argparse.ArgumentParser:
    """The options every crmctl command takes (token, deadline, idempotency key), as a parent
    parser. `nested=True` for a service's own sub-commands (`crmctl <svc> <action> ...`): the
    options are accepted after the action too, without their defaults overwriting values given
    before it."""
    common = argparse.ArgumentParser(add_help=False)

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if nested else value

    common.add_argument("--role", default=default("admin"), help="role(s) of the dev token, comma-separated (when CRM_TOKEN is not set)")
    common.add_argument("--subject", default=default(os.environ.get("USER", "crmctl")), help="subject of the dev token")
    # Where the caller works: they widen its data scope as far as its roles reach (repeatable).
    common.add_argument("--team-claim", action="append", default=default([]), metavar="TEAM", help="a team of the dev token's caller")
    common.add_argument("--branch-claim", action="append", default=default([]), metavar="BRANCH", help="a branch of the dev token's caller")
    common.add_argument("--territory-claim", action="append", default=default([]), metavar="TERRITORY", help="a territory, e.g. VN.NORTH")
    common.add_argument("--timeout", type=float, default=default(10.0))
    common.add_argument("--request-id", default=default(""), help="idempotency key (default: a new UUID)")
    return common


def main(argv: list[str] | None = None) -> int:
    common = common_options()
    parser = argparse.ArgumentParser(prog="crmctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="group", required=True)

    token = sub.add_parser("token", help="print a dev-signed bearer token", parents=[common])
    token.add_argument("--ttl", type=int, default=3600)

    commands: dict[str, Any] = {}
    for definition in services():
        if definition.ctl:
            module = load(definition.ctl)
            module.add_arguments(sub.add_parser(definition.name, parents=[common], help=module.HELP))
            commands[definition.name] = module

    args = parser.parse_args(argv)
    if args.group == "token":
        print(_token(args, args.ttl))
        return 0
    return int(commands[args.group].run(args, Ctl(args)))


if __name__ == "__main__":
    sys.exit(main())
