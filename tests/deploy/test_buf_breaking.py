"""`make buf-breaking` (scripts/buf-breaking.sh) can fail: in a throwaway repository of the
contracts, a removed field is caught on a branch (against its merge-base with main), on main
itself (HEAD == main, as in CI's clean clone: against the commit before, or the last release
tag), and against a tag named in BUF_AGAINST."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_helpers import ROOT

BUF = ROOT / ".venv" / "bin" / "buf"
PROTO = Path("protos/crm/common/v1/common.proto")


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def check(repo: Path, against: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BUF_AGAINST"}
    if against:
        env["BUF_AGAINST"] = against
    return subprocess.run(["bash", "scripts/buf-breaking.sh", str(BUF)], cwd=repo, env=env, capture_output=True, text=True, timeout=300)


def remove_a_field(repo: Path) -> None:
    path = repo / PROTO
    text = path.read_text()
    field = re.search(r"^\s+(?:repeated\s+)?[\w.]+\s+\w+\s*=\s*\d+;\s*$", text, re.MULTILINE)
    assert field, "no field to remove"
    path.write_text(text[: field.start()] + text[field.end() :])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if not BUF.exists():
        pytest.skip("buf is installed by `make setup`")
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "buf-breaking.sh", tmp_path / "scripts")
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "contracts v1")
    return tmp_path


def test_a_compatible_change_passes(repo: Path) -> None:
    (repo / PROTO).write_text((repo / PROTO).read_text() + "\nmessage AddedLater {\n  string note = 1;\n}\n")
    git(repo, "commit", "-q", "-am", "add a message")
    done = check(repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no breaking change" in done.stdout


def test_a_removed_field_fails_on_a_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    remove_a_field(repo)
    git(repo, "commit", "-q", "-am", "drop a field")
    done = check(repo)
    assert done.returncode != 0
    assert "deleted" in done.stdout + done.stderr


def test_a_removed_field_fails_on_main_itself(repo: Path) -> None:
    remove_a_field(repo)
    git(repo, "commit", "-q", "-am", "drop a field")
    assert git(repo, "rev-parse", "HEAD") == git(repo, "rev-parse", "main")
    assert check(repo).returncode != 0


def test_on_main_the_last_release_is_the_baseline(repo: Path) -> None:
    git(repo, "tag", "v1.0.0")
    remove_a_field(repo)
    git(repo, "commit", "-q", "-am", "drop a field")
    (repo / PROTO).write_text((repo / PROTO).read_text() + "\nmessage Unrelated {\n  string note = 1;\n}\n")
    git(repo, "commit", "-q", "-am", "a later, compatible commit")
    done = check(repo)
    assert done.returncode != 0, "the break two commits back is still a break against v1.0.0"
    assert check(repo, against="HEAD~1").returncode == 0
    assert check(repo, against="v1.0.0").returncode != 0
