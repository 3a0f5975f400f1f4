"""services.<name>.configFiles: rule files mounted from a ConfigMap or a Secret into the processes that read them.

One mechanism for every service (the lead scoring rules, the opportunity pipelines and next-best-action
rules, the account's AML watchlist): the templates name no service.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess

import pytest
import yaml
from deploy_helpers import CHART, RELEASE, container, containers, helm_template, parse, pod_spec

ACCOUNT_API = f"{RELEASE}-account-api"
WATCHLIST_DIR = "/etc/crm/watchlist"
CHECKSUM = "checksum/config-files"
# values.yaml declares each service's files: entry -> (service, variable, default key, processes).
DECLARED = {
    "scoring-rules": ("lead", "LEAD_SCORING_RULES_FILE", "scoring_rules.json", {"api", "worker"}),
    "watchlist": ("account", "ACCOUNT_WATCHLIST_FILE", "watchlist.csv", {"api"}),
    "pipelines": ("opportunity", "OPPORTUNITY_PIPELINES_FILE", "pipelines.json", {"api", "worker"}),
    "nba-rules": ("opportunity", "OPPORTUNITY_NBA_RULES_FILE", "nba_rules.json", {"api", "worker"}),
}


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def file_volumes(doc):
    return [v for v in pod_spec(doc).get("volumes", []) if v["name"].startswith("config-")]


def file_mounts(doc):
    return [m for c in containers(doc) for m in c.get("volumeMounts", []) if m["name"].startswith("config-")]


def annotations(doc):
    return doc["spec"]["template"]["metadata"].get("annotations", {}) if doc["kind"] == "Deployment" else {}


def without_files(doc, variables):
    """The object with everything the configFiles block adds taken out again."""
    doc = copy.deepcopy(doc)
    if doc["kind"] in ("Deployment", "Job", "Pod"):
        spec = pod_spec(doc)
        spec["volumes"] = [v for v in spec.get("volumes", []) if not v["name"].startswith("config-")]
        for c in containers(doc):
            if "env" in c:
                c["env"] = [e for e in c["env"] if e["name"] not in variables]
            if "volumeMounts" in c:
                c["volumeMounts"] = [m for m in c["volumeMounts"] if not m["name"].startswith("config-")]
        if doc["kind"] == "Deployment":
            doc["spec"]["template"]["metadata"]["annotations"].pop(CHECKSUM, None)
    return doc


@pytest.mark.parametrize(
    ("sets", "source"),
    [
        (["services.account.configFiles.watchlist.configMap=crm-aml-watchlist"], {"configMap": {"name": "crm-aml-watchlist"}}),
        (
            ["services.account.configFiles.watchlist.secret=crm-aml-pep", "services.account.configFiles.watchlist.key=pep.jsonl"],
            {"secret": {"secretName": "crm-aml-pep"}},
        ),
    ],
    ids=["configMap", "secret"],
)
def test_watchlist_is_mounted_into_the_account_api(render, sets, source):
    r = render(sets=sets)
    key = "pep.jsonl" if "secret" in source else "watchlist.csv"
    api = r.get("Deployment", ACCOUNT_API)

    (volume,) = file_volumes(api)
    assert volume["name"] == "config-watchlist"
    kind, expected = next(iter(source.items()))
    assert set(volume) == {"name", kind}, "exactly one source"
    for field, value in expected.items():
        assert volume[kind][field] == value
    assert volume[kind]["items"] == [{"key": key, "path": key}], "only the list's key is projected"
    assert volume[kind]["defaultMode"] == 0o444
    assert "optional" not in volume[kind], "a missing list keeps the pod from starting"

    api_container = container(api, "api")
    (mount,) = file_mounts(api)
    assert mount == {"name": "config-watchlist", "mountPath": WATCHLIST_DIR, "readOnly": True}
    assert "subPath" not in mount, "a subPath mount never sees an updated ConfigMap"
    assert env_of(api_container)["ACCOUNT_WATCHLIST_FILE"] == {"name": "ACCOUNT_WATCHLIST_FILE", "value": f"{WATCHLIST_DIR}/{key}"}
    # The hardening stays as it is: the mount is read-only, the root filesystem too.
    assert api_container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in api_container["volumeMounts"]} == {"/tmp", WATCHLIST_DIR}
    assert re.fullmatch(r"[0-9a-f]{64}", annotations(api)[CHECKSUM])


def test_only_the_account_api_gets_the_watchlist(render, rendered):
    """The worker and the migration Job neither mount the list nor get the variable (they never screen),
    and the ConfigMap shared by all three does not carry it; nothing else changes."""
    base = rendered["default"]
    r = render(sets=["services.account.configFiles.watchlist.configMap=crm-aml-watchlist"])
    assert len(r.docs) == len(base.docs)
    for doc in r.docs:
        name = doc["metadata"]["name"]
        if doc["kind"] in ("Deployment", "Job", "Pod") and name != ACCOUNT_API:
            assert not file_volumes(doc), name
            assert not file_mounts(doc), name
            assert all("ACCOUNT_WATCHLIST_FILE" not in env_of(c) for c in containers(doc)), name
            assert CHECKSUM not in annotations(doc), name
        if doc["kind"] == "ConfigMap":
            assert "ACCOUNT_WATCHLIST_FILE" not in (doc.get("data") or {}), name
        # Apart from the watchlist itself, every object renders exactly as without the block.
        matches = [d for d in base.docs if d["kind"] == doc["kind"] and d["metadata"]["name"] == name]
        assert len(matches) == 1, (doc["kind"], name)
        assert without_files(doc, {"ACCOUNT_WATCHLIST_FILE"}) == matches[0], (doc["kind"], name)


@pytest.mark.parametrize("scenario", ["default", "dev"])
def test_declared_files_without_a_source_mount_nothing(rendered, scenario):
    """values.yaml declares every known file with neither configMap nor secret: the services keep their defaults."""
    variables = {variable for _, variable, _, _ in DECLARED.values()}
    for doc in rendered[scenario].pod_owners():
        name = doc["metadata"]["name"]
        assert not file_volumes(doc), name
        assert not file_mounts(doc), name
        assert not any(variables & set(env_of(c)) for c in containers(doc)), name
        assert CHECKSUM not in annotations(doc), name


def test_values_yaml_declares_the_known_rule_files(chart_values):
    for entry, (service, variable, key, processes) in DECLARED.items():
        declared = chart_values["services"][service]["configFiles"][entry]
        assert declared == {"env": variable, "configMap": "", "secret": "", "key": key, "processes": sorted(processes)}, entry


def test_production_values_exercise_the_watchlist(rendered):
    """The CI production values turn screening on, so the Kubernetes schemas and checkov see the mount."""
    r = rendered["production"]
    (volume,) = file_volumes(r.get("Deployment", ACCOUNT_API))
    assert volume["configMap"]["name"].startswith("crm-aml-watchlist")
    assert not file_volumes(r.get("Deployment", f"{RELEASE}-account-worker"))


def test_config_files_scenario_mounts_files_of_two_services_into_api_and_worker(rendered):
    """ci/config-files-values.yaml: lead from a ConfigMap, opportunity from a ConfigMap and a Secret;
    the API and the worker of each get the same files (the worker builds the same handlers)."""
    r = rendered["config-files"]
    expected = {
        "lead": {"LEAD_SCORING_RULES_FILE": ("config-scoring-rules", {"configMap": {"name": "crm-lead-rules-2024-06"}}, "scoring_rules.json")},
        "opportunity": {
            "OPPORTUNITY_PIPELINES_FILE": ("config-pipelines", {"configMap": {"name": "crm-opportunity-rules-2024-06"}}, "retail-pipelines.json"),
            "OPPORTUNITY_NBA_RULES_FILE": ("config-nba-rules", {"secret": {"secretName": "crm-opportunity-nba"}}, "nba_rules.json"),
        },
    }
    for service, files in expected.items():
        for process in ("api", "worker"):
            doc = r.get("Deployment", f"{RELEASE}-{service}-{process}")
            volumes = {v["name"]: v for v in file_volumes(doc)}
            mounts = {m["name"]: m for m in file_mounts(doc)}
            c = container(doc, process)
            env = env_of(c)
            assert set(volumes) == set(mounts) == {volume for volume, _, _ in files.values()}, doc["metadata"]["name"]
            for variable, (volume, source, key) in files.items():
                ((kind, fields),) = source.items()
                assert {k: volumes[volume][kind][k] for k in fields} == fields
                assert volumes[volume][kind]["items"] == [{"key": key, "path": key}]
                folder = "/etc/crm/" + volume.removeprefix("config-")
                assert mounts[volume] == {"name": volume, "mountPath": folder, "readOnly": True}
                assert env[variable] == {"name": variable, "value": f"{folder}/{key}"}
            assert re.fullmatch(r"[0-9a-f]{64}", annotations(doc)[CHECKSUM])
        # Files reach the pods as mounts, never through the shared ConfigMap or the migration Job.
        assert not set(files) & set(r.get("ConfigMap", f"{RELEASE}-{service}")["data"])
        (job,) = containers(r.get("Job", f"{RELEASE}-{service}-migrate"))
        assert not set(files) & set(env_of(job))
    account = r.get("Deployment", ACCOUNT_API)
    assert not file_volumes(account) and CHECKSUM not in annotations(account)


def test_any_service_may_add_a_file_of_its_own(render):
    """The mechanism is generic: a new entry (here one the worker alone reads) needs no template change."""
    r = render(
        sets=[
            "services.lead.configFiles.routing.env=LEAD_ROUTING_RULES_FILE",
            "services.lead.configFiles.routing.key=routing.yaml",
            "services.lead.configFiles.routing.secret=crm-lead-routing",
            "services.lead.configFiles.routing.processes={worker}",
        ]
    )
    worker = r.get("Deployment", f"{RELEASE}-lead-worker")
    (volume,) = file_volumes(worker)
    assert volume == {
        "name": "config-routing",
        "secret": {"secretName": "crm-lead-routing", "defaultMode": 0o444, "items": [{"key": "routing.yaml", "path": "routing.yaml"}]},
    }
    assert env_of(containers(worker)[0])["LEAD_ROUTING_RULES_FILE"]["value"] == "/etc/crm/routing/routing.yaml"
    api = r.get("Deployment", f"{RELEASE}-lead-api")
    assert not file_volumes(api) and "LEAD_ROUTING_RULES_FILE" not in env_of(container(api, "api"))


def test_a_changed_source_rolls_the_pods(render):
    """The pod template changes with the source (name, key), so `helm upgrade` rolls the pods out."""
    base = "services.opportunity.configFiles.pipelines"

    def checksum(*sets):
        return annotations(render(sets=list(sets)).get("Deployment", f"{RELEASE}-opportunity-worker"))[CHECKSUM]

    first = checksum(f"{base}.configMap=rules-v1")
    assert first == checksum(f"{base}.configMap=rules-v1"), "deterministic"
    assert first != checksum(f"{base}.configMap=rules-v2")
    assert first != checksum(f"{base}.configMap=rules-v1", f"{base}.key=other.json")
    assert first != checksum(f"{base}.secret=rules-v1")


def test_the_checksum_covers_the_content_when_the_cluster_answers(tools, tmp_path):
    """At install/upgrade time `lookup` reads the ConfigMap: new content under the same name rolls the pods.
    `helm template` has no cluster, so a copy of the chart answers lookup from a file instead."""
    chart = tmp_path / "crm"
    shutil.copytree(CHART, chart)
    helpers = chart / "templates" / "_helpers.tpl"
    text = helpers.read_text()
    real = '{{- $obj := lookup "v1" (ternary "ConfigMap" "Secret" (eq .kind "configMap")) $root.Release.Namespace .source }}'
    assert text.count(real) == 1
    helpers.write_text(text.replace(real, '{{- $obj := index ($root.Files.Get "cluster.yaml" | fromYaml) .source | default dict }}'))

    def checksum(content):
        (chart / "cluster.yaml").write_text(yaml.safe_dump({"rules": {"data": {"pipelines.json": content}}}))
        cmd = [tools.helm, "template", RELEASE, str(chart), "-n", "crm", "--set", "services.opportunity.configFiles.pipelines.configMap=rules"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout
        return annotations(parse(out).get("Deployment", f"{RELEASE}-opportunity-api"))[CHECKSUM]

    assert checksum('{"v": 1}') == checksum('{"v": 1}')
    assert checksum('{"v": 1}') != checksum('{"v": 2}')


BAD = [
    # (--set arguments, text the error must contain)
    (
        ["services.account.configFiles.watchlist.configMap=a", "services.account.configFiles.watchlist.secret=b"],
        "services.account.configFiles.watchlist: Must not validate",
    ),
    (["services.lead.configFiles.rules.configMap=a"], "services.lead.configFiles.rules: env is required"),
    (["services.lead.configFiles.rules.env=LEAD_RULES", "services.lead.configFiles.rules.key=r.json"], "services.lead.configFiles.rules.env"),
    (["services.lead.configFiles.rules.env=DATABASE_URL", "services.lead.configFiles.rules.key=r.json"], "services.lead.configFiles.rules.env"),
    (["services.lead.configFiles.Rules_1.env=A_FILE", "services.lead.configFiles.Rules_1.key=r.json"], "Rules_1"),
    (["services.lead.configFiles.scoring-rules.key=../rules.json"], "services.lead.configFiles.scoring-rules.key"),
    (["services.lead.configFiles.scoring-rules.processes={api,migrate}"], "services.lead.configFiles.scoring-rules.processes"),
    (["services.lead.configFiles.scoring-rules.processes={}"], "services.lead.configFiles.scoring-rules.processes"),
    (["services.lead.configFiles.scoring-rules.path=/data/rules.json"], "path"),
    (["services.opportunity.configFiles.pipelines.configMap=Rules_V1"], "services.opportunity.configFiles.pipelines.configMap"),
]


@pytest.mark.parametrize(("sets", "message"), BAD, ids=[" ".join(s) for s, _ in BAD])
def test_bad_config_files_are_rejected(tools, sets, message):
    result = helm_template(tools, sets=sets, check=False)
    assert result.returncode != 0, f"accepted: {sets}"
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            ["services.account.configFiles.watchlist.configMap=a", "services.account.configFiles.watchlist.secret=b"],
            "services.account.configFiles.watchlist: set configMap or secret, not both",
        ),
        (
            ["services.opportunity.configFiles.copy.env=OPPORTUNITY_PIPELINES_FILE", "services.opportunity.configFiles.copy.key=p.json"],
            "services.opportunity.configFiles.pipelines: OPPORTUNITY_PIPELINES_FILE is already set by configFiles.copy",
        ),
        (
            ["services.lead.env.LEAD_SCORING_RULES_FILE=/x.json"],
            "services.lead.env.LEAD_SCORING_RULES_FILE: set by services.lead.configFiles.scoring-rules",
        ),
    ],
    ids=["both sources", "one variable twice", "variable in env"],
)
def test_the_chart_guards_the_rules_without_the_schema(tools, sets, message):
    """The templates guard the rules too, for renders with --skip-schema-validation."""
    result = helm_template(tools, sets=sets, check=False, extra=["--skip-schema-validation"])
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
