"""Has the workspace moved to a commit that is not applied yet? The applied commit (in
`.autonomic/upgrade.json`) against HEAD, with the list of paths that changed between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from autonomic.upgrade.repository import Change, Repository
from autonomic.upgrade.state import UpgradeState


class Verdict(StrEnum):
    NO_COMMIT = "no_commit"  # the repository has no commit yet
    FIRST_RUN = "first_run"  # nothing recorded: HEAD becomes the applied commit, nothing is applied
    LOST = "lost"  # the recorded commit is gone (history rewritten): HEAD is recorded afresh
    UP_TO_DATE = "up_to_date"
    KNOWN_BAD = "known_bad"  # HEAD was rolled back before: not retried until HEAD moves
    NEW = "new"  # HEAD moved: `changes` is what to apply


@dataclass(frozen=True)
class Detection:
    verdict: Verdict
    head: str | None
    applied: str | None
    changes: list[Change] = field(default_factory=list)
    note: str = ""

    @property
    def head_short(self) -> str:
        return short(self.head)


def detect(repo: Repository, state: UpgradeState, retry: bool = False) -> Detection:
    """Compare HEAD with the applied commit. `retry` treats a commit rolled back before as new."""
    head = repo.head()
    applied = state.applied
    if head is None:
        return Detection(Verdict.NO_COMMIT, None, applied, note="the repository has no commit yet")
    if applied is None:
        return Detection(Verdict.FIRST_RUN, head, None, note=f"first run: recorded {short(head)} as applied")
    if head == applied:
        return Detection(Verdict.UP_TO_DATE, head, applied, note=f"up to date at {short(head)}")
    if head in state.bad and not retry:
        reason = state.bad[head].get("reason", "")
        return Detection(
            Verdict.KNOWN_BAD,
            head,
            applied,
            note=f"{short(head)} was rolled back before ({reason}); not retried until HEAD moves "
            "(or run 'autonomic upgrade --retry')",
        )
    if not repo.has_commit(applied):
        return Detection(
            Verdict.LOST,
            head,
            applied,
            note=f"the applied commit {short(applied)} is gone from the repository; recorded {short(head)}",
        )
    return Detection(Verdict.NEW, head, applied, repo.changes(applied, head))


def short(commit: str | None) -> str:
    return commit[:10] if commit else "-"
