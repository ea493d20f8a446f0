"""tests/releases.txt: the record that gives tag-less checkouts their update paths back."""

from __future__ import annotations

import re

from .conftest import RELEASES, ROOT, sh


def recorded() -> dict[str, str]:
    lines = [line for line in RELEASES.read_text().splitlines() if line.strip() and not line.startswith("#")]
    pairs = [line.split() for line in lines]
    assert all(len(pair) == 2 and re.fullmatch(r"[0-9a-f]{40}", pair[1]) for pair in pairs), lines
    return dict(pairs)


def version(tag: str) -> tuple[int, ...]:
    return tuple(int(part) for part in tag.removeprefix("v").split("."))


def test_every_changelog_release_is_recorded_in_order() -> None:
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    tags = list(recorded())
    assert sorted(tags, key=version) == tags, "releases.txt must list releases oldest first"
    assert sorted(tags, key=version) == sorted((f"v{v}" for v in released), key=version)


def test_recorded_commits_match_the_tags_where_both_exist() -> None:
    for tag, commit in recorded().items():
        local = sh("git", "rev-parse", "--verify", "-q", f"{tag}^{{commit}}", cwd=ROOT, check=False).stdout.strip()
        if local:
            assert local == commit, f"{tag} is {local} here but {commit} in {RELEASES.name}"
