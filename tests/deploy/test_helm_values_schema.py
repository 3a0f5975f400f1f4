"""values.schema.json and the chart's own guards reject bad values with a message naming the culprit."""

from __future__ import annotations

import json

import pytest
from deploy_helpers import CHART, helm_template

BAD_VALUES = [
    # (--set arguments, text the error must contain)
    (["services.lead.api.replicas=two"], "services.lead.api.replicas"),
    (["services.lead.replica=2"], "replica"),
    (["services.lead.api.resourcez.cpu=1"], "resourcez"),
    (["replicaCount=2"], "replicaCount"),
    (["services.Lead_Service.enabled=true"], "Lead_Service"),
    (["services.lead.env.DATABASE_URL=postgresql://u:p@h/db"], "services.lead.env.DATABASE_URL"),
    (["services.lead.env.lower=x"], "services.lead.env"),
    (["services.account.env.PII_KEYS=k1:abc"], "services.account.env.PII_KEYS"),
    (["services.lead.env.PII_INDEX_KEY=abc"], "services.lead.env.PII_INDEX_KEY"),
    # The per-service flag is gone: every service reads the PII keys.
    (["services.account.piiEncryption=true"], "piiEncryption"),
    (["dev.piiKeys=not-a-key-ring"], "dev.piiKeys"),
    (["dev.piiIndexKey=c2hvcnQ="], "dev.piiIndexKey"),
    (["securityContext.runAsNonRoot=false"], "securityContext.runAsNonRoot"),
    (["securityContext.allowPrivilegeEscalation=true"], "securityContext.allowPrivilegeEscalation"),
    (["securityContext.capabilities.drop={NET_RAW}"], "securityContext.capabilities.drop"),
    (["podSecurityContext.runAsUser=0"], "podSecurityContext.runAsUser"),
    (["image.pullPolicy=Sometimes"], "image.pullPolicy"),
    (["services.lead.image.digest=sha256:abc"], "services.lead.image.digest"),
    (["networkPolicy.postgresql.cidrs={10.0.0.0}"], "networkPolicy.postgresql.cidrs"),
    (["networkPolicy.rabbitmq.ports={70000}"], "networkPolicy.rabbitmq.ports"),
    (["config.env=staging"], "config.env"),
    (["config.jwt.algorithm=none"], "config.jwt.algorithm"),
    (["grpc.graceSeconds=-1"], "grpc.graceSeconds"),
    (["grpc.drainSeconds=-1"], "grpc.drainSeconds"),
    (["services.account.api.pdb.maxUnavailable=lots"], "services.account.api.pdb.maxUnavailable"),
    (["services.lead.api.resources.limits.memory=big"], "services.lead.api.resources.limits.memory"),
    (["serviceMonitor.interval=often"], "serviceMonitor.interval"),
    # AML watchlist (a configFiles entry): one source, a .csv or .jsonl key, never through env.
    (
        ["services.account.configFiles.watchlist.configMap=aml", "services.account.configFiles.watchlist.secret=aml"],
        "services.account.configFiles.watchlist: Must not validate",
    ),
    (["services.account.configFiles.watchlist.key=watchlist.xlsx"], "services.account.configFiles.watchlist.key"),
    (["services.account.configFiles.watchlist.key=../watchlist.csv"], "services.account.configFiles.watchlist.key"),
    (["services.account.configFiles.watchlist.configMap=AML_List"], "services.account.configFiles.watchlist.configMap"),
    (["services.account.configFiles.watchlist.path=/data/list.csv"], "path"),
    (["services.account.env.ACCOUNT_WATCHLIST_FILE=/data/list.csv"], "services.account.env.ACCOUNT_WATCHLIST_FILE"),
    # The account-only `watchlist` key is gone: an old values file fails instead of silently not screening.
    (["services.account.watchlist.configMap=aml"], "services.account: Additional property watchlist is not allowed"),
    (["services.lead.watchlist.configMap=aml"], "services.lead: Additional property watchlist is not allowed"),
    (["serviceDefaults.watchlist.secret=aml"], "serviceDefaults: Additional property watchlist is not allowed"),
    # Services without a database or a worker: plain booleans.
    (["services.lead.database=no"], "services.lead.database"),
    (["serviceDefaults.worker.enabled=maybe"], "serviceDefaults.worker.enabled"),
    # The relay process: a boolean switch and a resources block; RELAY_IN_API follows it, never env.
    (["services.lead.relay.separate=maybe"], "services.lead.relay.separate"),
    (["services.lead.relay.replicas=2"], "services.lead.relay: Additional property replicas is not allowed"),
    (["services.lead.relay.resources.limits.cpu=lots"], "services.lead.relay.resources.limits.cpu"),
    (["services.lead.env.RELAY_IN_API=true"], "services.lead.env.RELAY_IN_API"),
    (["metrics.relayPort=70000"], "metrics.relayPort"),
    # Native sidecars: auto, true or false, nothing else (a string "true" is not the boolean).
    (["nativeSidecars=maybe"], "nativeSidecars"),
    (["nativeSidecars=1.29"], "nativeSidecars"),
    # Checks the schema cannot express, done by the templates:
    (["services.lead.peers={account,billing}"], 'services.lead.peers: "billing" is not a service of this chart'),
    (["services.account.enabled=false"], 'services.lead.peers: "account" is disabled'),
    (["dev.enabled=true"], "dev.enabled renders throwaway databases"),
    (
        ["services.lead.api.autoscaling.enabled=true", "services.lead.api.autoscaling.minReplicas=5", "services.lead.api.autoscaling.maxReplicas=2"],
        "minReplicas (5) is greater than maxReplicas (2)",
    ),
]


@pytest.mark.parametrize(("sets", "message"), BAD_VALUES, ids=[" ".join(s) for s, _ in BAD_VALUES])
def test_bad_values_are_rejected(tools, sets, message):
    result = helm_template(tools, sets=sets, check=False)
    assert result.returncode != 0, f"accepted: {sets}"
    assert message in result.stderr, result.stderr


def test_good_overrides_are_accepted(tools):
    sets = [
        "services.lead.api.replicas=3",
        "services.lead.env.FEATURE_X=on",
        "services.account.api.pdb.maxUnavailable=25%",
        "networkPolicy.postgresql.cidrs={10.1.2.0/24}",
        "services.opportunity.image.digest=sha256:" + "0" * 64,
        "services.account.configFiles.watchlist.secret=crm-aml-pep",
        "services.account.configFiles.watchlist.key=PEP-2024.06.JSONL",
        "services.lead.configFiles.scoring-rules.configMap=crm-lead-rules",
        "services.opportunity.configFiles.nba-rules.secret=crm-nba",
        "services.opportunity.configFiles.nba-rules.processes={worker}",
        "services.lead.worker.enabled=false",
        "services.opportunity.database=false",
        "services.account.env.KYC_EXPIRY_SWEEP_SECONDS=300",
        "services.account.env.TIER_AFFLUENT_AUM_VND=2000000000",
        "services.account.env.ACCOUNT_ERASURE_SERVICES=lead\\,opportunity",
        "services.lead.relay.separate=false",
        "serviceDefaults.relay.resources.limits.cpu=250m",
        "metrics.relayPort=9476",
        "nativeSidecars=false",
    ]
    assert helm_template(tools, sets=sets, check=False).returncode == 0


def test_every_service_object_is_closed():
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    # Every service, and serviceDefaults, has the same closed schema: no service has keys of its own.
    assert "properties" not in schema["properties"]["services"]
    assert schema["properties"]["services"]["additionalProperties"] == {"$ref": "#/definitions/service"}
    assert schema["properties"]["serviceDefaults"] == {"$ref": "#/definitions/service"}
    assert schema["definitions"]["configFiles"]["additionalProperties"] == {"$ref": "#/definitions/configFile"}

    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, f"{path} is open"
            for key, child in node.items():
                walk(child, f"{path}/{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{path}/{i}")

    walk(schema["definitions"]["service"], "service")
    for name in ("api", "relay", "worker", "migrations", "resources", "configFile"):
        walk(schema["definitions"][name], name)
