"""Auto-upgrade after `git pull`: detect a new commit, plan from the diff, apply it step by step, gate on
health, and roll back when anything fails.

    detect.py     the applied commit (.autonomic/upgrade.json) vs HEAD: first run, up to date, new, bad
    plan.py       the diff turned into steps: config check, pip, npm, permissions, reload, restarts
    apply.py      one upgrade run under a lock: detect, plan, install, restart, gate, or roll back
    steps.py      the install steps (pip, npm, chmod), exit codes checked, each logged
    supervision.py  restarts, config reloads and status through the orchestrator's control channel
    gate.py       the health gate: running, probe passing, stable for a settle period
    rollback.py   back to the previous commit and dependency set, restart, re-verify, remember the bad one
    hooks.py      post-merge / post-checkout / post-rewrite hooks that chain to the user's own

Which interpreter gets the Python dependencies: `[upgrade] python` if set; else the workspace's own
`.venv` if it has one (the orchestrator puts its `bin` first on every service's PATH, so `python` in a
service command is that venv); else the interpreter autonomic runs under, which is the one the built-in
services run on (`config.core_argv`).
"""
