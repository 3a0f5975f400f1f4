"""Reference A for `lead_capture.py`: the least a lead capture can do, as a gRPC server.

A sync `grpc.server` with 16 threads serving `crm.lead.v1.LeadService/CreateLead` only: decode
the request, verify the caller's HS256 JWT (signature, expiry, issuer, audience, on every call),
one INSERT of the contact through a psycopg pool, reply with the new id. No validation, dedupe,
idempotency, outbox, audit, metrics or tracing: what the capture adds over this is what the
ratio in `lead_capture.py` prices. Runs as its own process, so its CPU can be read from /proc.

With --events it is reference E, the same plus the event path and nothing else: the INSERT and
an outbox row with the lead's LeadCaptured in one statement (one transaction), which the lead
service's own relay publishes (routing key `ReferenceLeadCaptured`, so that the bench tells them
apart) and the bench consumes. The capture cannot be cheaper than this on a box that runs it all.

    .venv/bin/python bench/reference_capture.py --port 50999 --database-url postgresql://...
"""

from __future__ import annotations

import argparse
import signal
import threading
import uuid
from concurrent import futures

import grpc
import jwt
from psycopg.types.json import Json
from psycopg_pool import ConnectionPool

from crm.lead.v1 import events_pb2, lead_pb2, lead_service_pb2
from crm_common.settings import DEV_JWT_KEY

TABLE = "reference_leads"
# Reference E's event: the routing key its outbox rows are published with.
EVENT_TYPE = "ReferenceLeadCaptured"
INSERT = f"INSERT INTO {TABLE} (lead_id, full_name, phone, email) VALUES (%s, %s, %s, %s)"
INSERT_WITH_EVENT = f"""WITH lead AS ({INSERT} RETURNING lead_id)
INSERT INTO outbox (event_id, event_type, payload, headers, created_at) SELECT %s, %s, %s, %s, now() FROM lead"""
HEADERS = Json({"x-event-type": events_pb2.LeadCaptured.DESCRIPTOR.full_name})


def serve(port: int, conninfo: str, threads: int, events: bool) -> None:
    pool = ConnectionPool(conninfo, min_size=threads, max_size=threads, open=True)
    with pool.connection() as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (lead_id uuid PRIMARY KEY, full_name text, phone text, email text,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        )

    def create_lead(request: lead_service_pb2.CreateLeadRequest, context: grpc.ServicerContext) -> lead_service_pb2.CreateLeadResponse:
        header = dict(context.invocation_metadata()).get("authorization", "")
        try:
            jwt.decode(header.removeprefix("Bearer "), DEV_JWT_KEY, algorithms=["HS256"], issuer="crm-dev", audience="crm")
        except jwt.InvalidTokenError:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")
        lead_id = uuid.uuid4()
        contact = request.lead.contact
        row = (lead_id, contact.full_name, contact.phone, contact.email)
        with pool.connection() as conn:
            if events:
                event = events_pb2.LeadCaptured(lead=lead_pb2.Lead(lead_id=str(lead_id)))
                event.metadata.event_id = str(uuid.uuid4())
                event.metadata.occur_time.GetCurrentTime()
                conn.execute(INSERT_WITH_EVENT, (*row, event.metadata.event_id, EVENT_TYPE, event.SerializeToString(), HEADERS))
            else:
                conn.execute(INSERT, row)
        return lead_service_pb2.CreateLeadResponse(lead=lead_pb2.Lead(lead_id=str(lead_id)))

    handler = grpc.method_handlers_generic_handler(
        "crm.lead.v1.LeadService",
        {
            "CreateLead": grpc.unary_unary_rpc_method_handler(
                create_lead,
                request_deserializer=lead_service_pb2.CreateLeadRequest.FromString,
                response_serializer=lead_service_pb2.CreateLeadResponse.SerializeToString,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    server.stop(2).wait()
    pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True, help="a libpq URL (postgresql://...)")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--events", action="store_true", help="reference E: an outbox row with each insert, for the relay to publish")
    args = parser.parse_args()
    serve(args.port, args.database_url, args.threads, args.events)


if __name__ == "__main__":
    main()
