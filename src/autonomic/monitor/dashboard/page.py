"""The dashboard page: the same parts for the offline file (`outputs/dashboard_latest.html`) and the
live page, which adds buttons and a small script of our own that swaps in parts pushed by server-sent
events. Everything is escaped; charts are inline SVG drawn on the server."""

from __future__ import annotations

from html import escape
from typing import Any

from autonomic.monitor.charts import line_chart
from autonomic.monitor.history import History

STATE_LABELS = {"backoff": "restarting"}

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#111;background:#f8fafc}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:1.5rem}
table{border-collapse:collapse;background:#fff}
td,th{padding:.3rem .6rem;border-bottom:1px solid #e5e7eb;text-align:left}
.status-ok{color:#15803d}.status-degraded{color:#b45309}.status-critical{color:#b91c1c}
tr[data-state=running] .state{color:#15803d}
tr[data-state=restarting] .state,tr[data-state=starting] .state{color:#b45309}
tr[data-state=fatal] .state,tr[data-state=exited] .state{color:#b91c1c}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.chart{width:560px;max-width:100%;border:1px solid #e5e7eb}
.sev-critical{color:#b91c1c}.sev-warning{color:#b45309}.sev-info{color:#2563eb}
button{margin-right:.3rem}
"""

SCRIPT = """
(() => {
  const csrf = document.querySelector('meta[name=csrf-token]').content;
  const show = (row, label) => {
    row.dataset.state = label;
    row.querySelector('.state').textContent = label;
  };
  const events = new EventSource('events');
  events.addEventListener('parts', (e) => {
    const parts = JSON.parse(e.data);
    for (const [id, html] of Object.entries(parts)) {
      const target = document.getElementById(id);
      if (target) target.innerHTML = html;
    }
  });
  events.addEventListener('state', (e) => {
    const change = JSON.parse(e.data);
    for (const row of document.querySelectorAll('tr[data-service]')) {
      if (row.dataset.service === change.service) show(row, change.label);
    }
  });
  events.onopen = () => { document.getElementById('live').textContent = 'live'; };
  events.onerror = () => { document.getElementById('live').textContent = 'reconnecting...'; };
  document.addEventListener('click', async (e) => {
    const button = e.target.closest('button[data-action]');
    if (!button) return;
    button.disabled = true;
    const url = 'api/services/' + encodeURIComponent(button.dataset.service) + '/' + button.dataset.action;
    const answer = await fetch(url, {method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: '{}'});
    document.getElementById('message').textContent = answer.ok ? '' : (await answer.json()).detail;
    button.disabled = false;
  });
})();
"""


def label(state: str) -> str:
    """What the page calls a state: `backoff` reads as `restarting`."""
    return STATE_LABELS.get(state, state)


def services_part(summary: dict[str, Any], live: bool) -> str:
    titles = ("service", "state", "pid", "uptime", "restarts", "CPU %", "RSS MB", "24 h")
    head = "<tr>" + "".join(f"<th>{t}</th>" for t in titles)
    rows = [f"<table>{head}{'<th></th>' if live else ''}</tr>"]
    for s in summary["services"]:
        name = escape(str(s["name"]))
        shown = escape(label(str(s["state"])))
        share = s.get("availability_24h")
        cells = [
            f"<td>{name}</td>",
            f'<td class="state">{shown}</td>',
            f"<td>{s.get('pid') or ''}</td>",
            f"<td>{_duration(s.get('uptime'))}</td>",
            f"<td>{s.get('restarts', 0)}</td>",
            f"<td>{float(s.get('cpu_percent') or 0):.1f}</td>",
            f"<td>{float(s.get('rss_mb') or 0):.1f}</td>",
            f"<td>{'' if share is None else f'{share:.2f} %'}</td>",
        ]
        if live:
            cells.append(
                f'<td><button data-action="restart" data-service="{name}">restart</button>'
                f'<button data-action="stop" data-service="{name}">stop</button></td>'
            )
        rows.append(f'<tr data-service="{name}" data-state="{shown}">{"".join(cells)}</tr>')
    if not summary["orchestrator"].get("reachable"):
        rows.append(
            f'<tr><td colspan="8">orchestrator: {escape(str(summary["orchestrator"].get("error")))}</td></tr>'
        )
    return "".join(rows) + "</table>"


def queue_part(summary: dict[str, Any]) -> str:
    queue = summary["queue"]
    if queue.get("error") == "disabled":
        return "<p>The queue is disabled.</p>"
    if not queue.get("reachable"):
        return f"<p>The queue could not be read: {escape(str(queue.get('error')))}</p>"
    throughput = queue.get("throughput_per_min")
    facts = (
        f"<p>pending <b>{queue['pending']}</b> · in flight <b>{queue['inflight']}</b>"
        f" · dead <b>{queue['dead']}</b>"
        f" · live workers <b>{queue['workers']}</b> · success {100 * queue['success_rate']:.1f} %"
        f" · throughput {'n/a' if throughput is None else f'{throughput:.1f}'}/min</p>"
    )
    rows = "".join(
        f"<tr><td>{escape(t)}</td><td>{r['count']}</td><td>{100 * r['success_rate']:.1f} %</td>"
        f"<td>{_ms(r['p50_ms'])}</td><td>{_ms(r['p95_ms'])}</td></tr>"
        for t, r in queue.get("by_type", {}).items()
    )
    titles = ("type", "results (1 h)", "success", "p50 ms", "p95 ms")
    table = "<table><tr>" + "".join(f"<th>{t}</th>" for t in titles) + f"</tr>{rows}</table>"
    return facts + (table if rows else "")


def alerts_part(summary: dict[str, Any]) -> str:
    firing = summary["alerts"]["firing"]
    if not firing:
        return "<p>No alert firing.</p>"
    items = "".join(
        f'<li class="sev-{escape(a["severity"])}"><b>{escape(a["severity"])}</b> {escape(a["message"])} '
        f"(since {escape(a['since'])})</li>"
        for a in firing
    )
    return f"<ul>{items}</ul>"


def charts_part(history: History, services: list[str]) -> str:
    charts = [
        line_chart(
            "System CPU and memory (%)",
            {"CPU": history.series("cpu"), "memory": history.series("memory")},
            "%",
            100.0,
        ),
        line_chart(
            "Queue", {"pending": history.series("pending"), "throughput/min": history.series("throughput")}
        ),
        line_chart("Service memory (RSS MB)", {n: history.series(f"rss:{n}") for n in services[:7]}, " MB"),
        line_chart("Service CPU (% of a core)", {n: history.series(f"cpu:{n}") for n in services[:7]}, "%"),
    ]
    return "".join(charts)


def status_part(summary: dict[str, Any]) -> str:
    status = escape(summary["status"])
    sampled = escape(str(summary["sample_at"]))
    return f'<span class="status-{status}">{status.upper()}</span> · sample of {sampled}'


def parts(summary: dict[str, Any], history: History, live: bool) -> dict[str, str]:
    """The page's replaceable sections by element id."""
    names = [str(s["name"]) for s in summary["services"]]
    return {
        "status": status_part(summary),
        "services": services_part(summary, live),
        "queue": queue_part(summary),
        "alerts": alerts_part(summary),
        "charts": charts_part(history, names),
    }


def _document(body_parts: dict[str, str], head_extra: str, script: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>autonomic dashboard</title>{head_extra}<style>{STYLE}</style></head><body>"
        f'<h1>autonomic <span id="status">{body_parts["status"]}</span> <small id="live"></small></h1>'
        '<p id="message" role="status"></p>'
        f'<h2>Services</h2><div id="services">{body_parts["services"]}</div>'
        f'<h2>Queue</h2><div id="queue">{body_parts["queue"]}</div>'
        f'<h2>Alerts</h2><div id="alerts">{body_parts["alerts"]}</div>'
        f'<h2>Last 24 hours</h2><div id="charts" class="charts">{body_parts["charts"]}</div>'
        f"{script}</body></html>"
    )


def static_page(summary: dict[str, Any], history: History) -> str:
    """`outputs/dashboard_latest.html`: no script, no network; opens by double-clicking it."""
    return _document(parts(summary, history, live=False), "", "")


def live_page(summary: dict[str, Any], history: History, csrf: str, nonce: str) -> str:
    """The served page: the same parts plus buttons and the live-update script (allowed by `nonce`)."""
    head = f'<meta name="csrf-token" content="{escape(csrf)}">'
    script = f'<script nonce="{escape(nonce)}">{SCRIPT}</script>'
    return _document(parts(summary, history, live=True), head, script)


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return ""
    seconds = int(seconds)
    if seconds >= 86400:
        return f"{seconds // 86400}d {seconds % 86400 // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 60}m {seconds % 60}s"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"
