"""Recommendations that follow from the numbers in a summary: each names the figure that caused it."""

from __future__ import annotations

from typing import Any

from autonomic.monitor.availability import Availability

AVAILABILITY_TARGET = 99.0
RESTARTS_WORTH_A_LOOK = 3


def recommendations(summary: dict[str, Any], available: dict[str, Availability]) -> list[str]:
    found: list[str] = []
    for name, share in sorted(available.items()):
        if share.percent is not None and share.percent < AVAILABILITY_TARGET:
            found.append(
                f"{name} was up {share.percent:.2f} % of the last 24 h (target {AVAILABILITY_TARGET:g} %): "
                f"read `autonomic logs {name}` around its incidents below."
            )
    for service in summary["services"]:
        if service["state"] == "fatal":
            found.append(
                f"{service['name']} is fatal (crash loop): fix the cause, "
                f"then `autonomic restart {service['name']}`."
            )
        elif service.get("restarts_24h", 0) >= RESTARTS_WORTH_A_LOOK:
            found.append(
                f"{service['name']} restarted {service['restarts_24h']} times in 24 h: "
                "look at its exits in its log."
            )
    queue = summary["queue"]
    if queue.get("reachable"):
        if queue.get("pending", 0) > 0 and queue.get("workers", 0) == 0:
            found.append(
                f"{queue['pending']} tasks wait and no worker is live: start one (`autonomic start worker`)."
            )
        if queue.get("dead", 0) > 0:
            found.append(f"{queue['dead']} tasks are dead-lettered: inspect them with `autonomic queue dlq`.")
    elif queue.get("error") != "disabled":
        found.append(f"The queue could not be read ({queue.get('error')}): check `autonomic status queue`.")
    system = summary["system"]
    if (system.get("disk_percent") or 0) > 90:
        found.append(f"The disk is {system['disk_percent']:.0f} % full: free space or prune backups.")
    if (system.get("memory_percent") or 0) > 90:
        found.append(
            f"Memory is {system['memory_percent']:.0f} % used: "
            "check the services' RSS in the performance dashboard."
        )
    return found
