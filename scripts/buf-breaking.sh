#!/usr/bin/env bash
# buf breaking (FILE rules): protos/ against the previous released contract.
#
# The baseline is BUF_AGAINST when set (a tag such as v1.4.0, or any commit); otherwise, on a
# branch, where it forked from main (the merge-base: what main already serves); otherwise, on
# main itself (CI's clean clone, HEAD == main), the last release tag (v*) before HEAD, or the
# commit before HEAD when there is none. The baseline's protos are exported with `git archive`,
# so this works in worktrees and needs only that commit.
# Usage: scripts/buf-breaking.sh [path/to/buf]
set -euo pipefail
BUF=${1:-buf}
cd "$(git rev-parse --show-toplevel)"

against=${BUF_AGAINST:-}
if [ -z "$against" ]; then
  head=$(git rev-parse HEAD)
  base=$(git merge-base HEAD main 2>/dev/null || true)
  if [ -n "$base" ] && [ "$base" != "$head" ]; then
    against=$base
  elif git rev-parse -q --verify HEAD~1 >/dev/null; then
    against=$(git describe --tags --abbrev=0 --match 'v*' HEAD~1 2>/dev/null || git rev-parse HEAD~1)
  else
    echo "buf breaking: HEAD has no parent (a single commit or a shallow clone); nothing to compare against"
    exit 0
  fi
fi
git rev-parse -q --verify "$against^{commit}" >/dev/null || { echo "buf breaking: $against is not a commit of this clone (fetch it, or unshallow)" >&2; exit 1; }

baseline=$(mktemp -d)
trap 'rm -rf "$baseline"' EXIT
if [ -z "$(git ls-tree "$against" protos)" ]; then
  echo "buf breaking: $against has no protos yet; nothing to compare against"
  exit 0
fi
git archive "$against" protos | tar -x -C "$baseline"
"$BUF" breaking protos --against "$baseline/protos"
echo "buf breaking: no breaking change against $against"
