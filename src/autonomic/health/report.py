"""The dashboard's verdict: N/8 passed, the tier, the exit code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from autonomic.health.check import CheckId, CheckResult


class Tier(StrEnum):
    OPERATIONAL = "operational"  # every check passes
    DEGRADED = "degraded"  # one or two fail
    CRITICAL = "critical"  # more fail

    @property
    def banner(self) -> str:
        return _TITLES[self]

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self]


_TITLES = {
    Tier.OPERATIONAL: "🟢 ALL SYSTEMS OPERATIONAL",
    Tier.DEGRADED: "🟡 DEGRADED",
    Tier.CRITICAL: "🔴 CRITICAL",
}
_EXIT_CODES = {Tier.OPERATIONAL: 0, Tier.DEGRADED: 1, Tier.CRITICAL: 2}


@dataclass(frozen=True)
class HealthReport:
    results: list[CheckResult]
    elapsed: float = 0.0

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def percent(self) -> int:
        return round(100 * self.passed / self.total) if self.total else 100

    @property
    def tier(self) -> Tier:
        failing = self.total - self.passed
        if failing == 0:
            return Tier.OPERATIONAL
        return Tier.DEGRADED if failing <= 2 else Tier.CRITICAL

    @property
    def failing(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ok]

    def result(self, check: CheckId) -> CheckResult:
        return next(r for r in self.results if r.id is check)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "total": self.total,
            "percent": self.percent,
            "tier": self.tier.value,
            "status": self.tier.banner,
            "exit_code": self.tier.exit_code,
            "elapsed": round(self.elapsed, 3),
            "checks": [r.to_dict() for r in self.results],
        }
