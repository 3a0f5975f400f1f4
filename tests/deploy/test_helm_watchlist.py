"""services.account.watchlist: the AML list is mounted into the account API only, read from ACCOUNT_WATCHLIST_FILE."""

from __future__ import annotations

import copy

import pytest
from deploy_helpers import RELEASE, containers, helm_template, pod_spec

MOUNT_DIR = "/etc/crm/watchlist"
ACCOUNT_API = f"{RELEASE}-account-api"


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def watchlist_volumes(doc):
    return [v for v in pod_spec(doc).get("volumes", []) if v["name"] == "watchlist"]


def watchlist_mounts(doc):
    return [m for c in containers(doc) for m in c.get("volumeMounts", []) if m["name"] == "watchlist"]


def without_watchlist(doc):
    """The object with everything the watchlist block adds taken out again."""
    doc = copy.deepcopy(doc)
    if doc["kind"] in ("Deployment", "Job", "Pod"):
        spec = pod_spec(doc)
        spec["volumes"] = [v for v in spec.get("volumes", []) if v["name"] != "watchlist"]
        for c in spec["containers"]:
            if "env" in c:
                c["env"] = [e for e in c["env"] if e["name"] != "ACCOUNT_WATCHLIST_FILE"]
            if "volumeMounts" in c:
                c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "watchlist"]
        if doc["kind"] == "Deployment":
            doc["spec"]["template"]["metadata"]["annotations"].pop("crm/watchlist", None)
    return doc


@pytest.mark.parametrize(
    ("sets", "source"),
    [
        (["services.account.watchlist.configMap=crm-aml-watchlist"], {"configMap": {"name": "crm-aml-watchlist"}}),
        (
            ["services.account.watchlist.secret=crm-aml-pep", "services.account.watchlist.key=pep.jsonl"],
            {"secret": {"secretName": "crm-aml-pep"}},
        ),
    ],
    ids=["configMap", "secret"],
)
def test_watchlist_is_mounted_into_the_account_api(render, sets, source):
    r = render(sets=sets)
    key = "pep.jsonl" if "secret" in source else "watchlist.csv"
    api = r.get("Deployment", ACCOUNT_API)

    (volume,) = watchlist_volumes(api)
    kind, expected = next(iter(source.items()))
    assert set(volume) == {"name", kind}, "exactly one source"
    for field, value in expected.items():
        assert volume[kind][field] == value
    assert volume[kind]["items"] == [{"key": key, "path": key}], "only the list's key is projected"
    assert volume[kind]["defaultMode"] == 0o444
    assert "optional" not in volume[kind], "a missing list keeps the pod from starting"

    (container,) = containers(api)
    (mount,) = watchlist_mounts(api)
    assert mount == {"name": "watchlist", "mountPath": MOUNT_DIR, "readOnly": True}
    assert "subPath" not in mount
    assert env_of(container)["ACCOUNT_WATCHLIST_FILE"] == {"name": "ACCOUNT_WATCHLIST_FILE", "value": f"{MOUNT_DIR}/{key}"}
    # The hardening stays as it is: the mount is read-only, the root filesystem too.
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", MOUNT_DIR}

    annotations = api["spec"]["template"]["metadata"]["annotations"]
    assert annotations["crm/watchlist"] == f"{kind}/{next(iter(expected.values()))}/{key}"


def test_only_the_account_api_gets_the_watchlist(render, rendered, services):
    """The worker and the migration Job neither mount the list nor get the variable (they never screen),
    and the ConfigMap shared by all three does not carry it; nothing else changes."""
    base = rendered["default"]
    r = render(sets=["services.account.watchlist.configMap=crm-aml-watchlist"])
    assert len(r.docs) == len(base.docs)
    for doc in r.docs:
        name = doc["metadata"]["name"]
        if doc["kind"] in ("Deployment", "Job", "Pod") and name != ACCOUNT_API:
            assert not watchlist_volumes(doc), name
            assert not watchlist_mounts(doc), name
            assert all("ACCOUNT_WATCHLIST_FILE" not in env_of(c) for c in containers(doc)), name
        if doc["kind"] == "ConfigMap":
            assert "ACCOUNT_WATCHLIST_FILE" not in (doc.get("data") or {}), name
        # Apart from the watchlist itself, every object renders exactly as without the block.
        matches = [d for d in base.docs if d["kind"] == doc["kind"] and d["metadata"]["name"] == name]
        assert len(matches) == 1, (doc["kind"], name)
        assert without_watchlist(doc) == matches[0], (doc["kind"], name)


@pytest.mark.parametrize("scenario", ["default", "dev"])
def test_without_the_block_nothing_is_mounted(rendered, scenario):
    for doc in rendered[scenario].pod_owners():
        name = doc["metadata"]["name"]
        assert not watchlist_volumes(doc), name
        assert not watchlist_mounts(doc), name
        assert all("ACCOUNT_WATCHLIST_FILE" not in env_of(c) for c in containers(doc)), name
        if doc["kind"] == "Deployment":
            assert "crm/watchlist" not in doc["spec"]["template"]["metadata"].get("annotations", {}), name


def test_production_values_exercise_the_watchlist(rendered):
    """The CI production values turn screening on, so the Kubernetes schemas and checkov see the mount."""
    r = rendered["production"]
    (volume,) = watchlist_volumes(r.get("Deployment", ACCOUNT_API))
    assert volume["configMap"]["name"].startswith("crm-aml-watchlist")
    assert not watchlist_volumes(r.get("Deployment", f"{RELEASE}-account-worker"))


def test_the_chart_refuses_both_sources_without_the_schema(tools):
    """The template guards the rule too, for renders with --skip-schema-validation."""
    sets = ["services.account.watchlist.configMap=a", "services.account.watchlist.secret=b"]
    result = helm_template(tools, sets=sets, check=False, extra=["--skip-schema-validation"])
    assert result.returncode != 0
    assert "services.account.watchlist: set configMap or secret, not both" in result.stderr
