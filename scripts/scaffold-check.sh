#!/usr/bin/env bash
# CI's guard on the mould: casts a throwaway service from scripts/service-template in a copy of
# this tree (its own git repository and .venv), then runs that service's lint, contracts, unit,
# integration and end-to-end tests, so the template never rots. Prints the files the scaffold
# wrote outside services/<name>/.
set -euo pipefail
keep=${SCAFFOLD_KEEP:-}
root=$(cd "$(dirname "$0")/.." && pwd)
name=${SCAFFOLD_PROBE:-scaffold-probe}
work=$(mktemp -d "${TMPDIR:-/tmp}/crm-scaffold.XXXXXX")
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
echo "scaffold-check: working in $work"

cd "$root"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$work"
cd "$work"
git init -q && git add -A && git -c user.name=ci -c user.email=ci@localhost commit -qm "the tree under test"
make -s setup >/dev/null
# A package and contract shorter than the name, the harder case (as territory-quota: crm_territory).
make -s new-service name="$name" package=crm_probe proto=probe
make -s buf-lint
.venv/bin/ruff check "services/$name"
.venv/bin/ruff format --check "services/$name"
.venv/bin/mypy "services/$name/src"
# Its own tests only, with only it in the end-to-end stack.
E2E_SERVICES="$name" .venv/bin/pytest -q -p no:cacheprovider "services/$name/tests"
# The chart values block and the Tiltfile line it wrote agree with the registry and render.
.venv/bin/pytest -q -p no:cacheprovider tests/deploy/test_registry.py tests/deploy/test_tiltfile.py tests/deploy/test_helm_values_schema.py
echo "scaffold-check: services/$name was cast and passed its tests"
