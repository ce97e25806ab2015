"""Backup time and disk use of `autonomic backup run` beside `restic backup`, on the same tree, in one run.

What it measures
    A fresh workspace (`autonomic init`) holding a tree of `--files` files (default 10,000) of
    `--mb` MB in all (default 200; random, incompressible content; 100 folders; sizes from 1 kB to
    about 2 MB, deterministic from `--seed`), included in the snapshots with
    `[backup] include = ["data/**"]`. Then, in this order:
        1. autonomic, first run       2. restic, first run (into a fresh repository)
        3. autonomic, second run      4. restic, second run   (nothing changed in between)
        ... and `--repeat` (default 3) unchanged runs of each in all, taking turns, whose medians
        are shown too (one run on a shared machine is noisy).
    Time: wall clock of the whole command as a user runs it (`python -m autonomic backup run`, and
    `restic backup <workspace> --exclude <workspace>/backups`), process start-up included; autonomic's
    own figure from outputs/backup_log.jsonl is shown beside it, and the CPU seconds (user + system)
    of each command, which depend far less on what else the machine is doing. Disk: `du -s -B1` of the backup folder
    and of the restic repository after each run (du counts a hard-linked file once).
    Both tools read the same files: restic is given the workspace (without autonomic's backups/).

The one command
    .venv/bin/python benchmarks/backup.py [--files 10000] [--mb 200] [--repeat 3]    (about a minute)

What it installs (benchmark-only, and only if missing)
    Debian's `restic` with `apt-get install -y restic` (as root, or through sudo). Nothing else.
    Everything happens in a temporary folder that is removed at the end (`--keep` keeps it).

How to read it
    The "Done when" targets of issue 13: the second, unchanged autonomic run adds < 5 % of the first
    run's disk use, and runs faster than restic's second run in the same measurement. Results also
    go to benchmarks/results/backup-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def ensure_restic() -> str:
    """The restic binary, installed from Debian's archive when missing."""
    found = shutil.which("restic")
    if found:
        return found
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    print("restic is missing: apt-get install -y restic (benchmark only)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, "apt-get", "install", "-y", "-q", "restic"], check=True, env=env)
    found = shutil.which("restic")
    if not found:
        raise SystemExit("restic could not be installed")
    return found


def make_tree(data: Path, files: int, total_mb: int, seed: int) -> int:
    """`files` files in 100 folders, `total_mb` MB of random bytes in all; returns the byte count."""
    rng = random.Random(seed)
    weights = [rng.lognormvariate(0, 1.2) for _ in range(files)]
    scale = total_mb * 1_000_000 / sum(weights)
    written = 0
    for i, weight in enumerate(weights):
        folder = data / f"d{i % 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        size = max(1000, int(weight * scale))
        (folder / f"f{i:05d}.bin").write_bytes(rng.randbytes(size))
        written += size
    return written


def du(path: Path) -> int:
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the process and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv[:4])} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return elapsed, cpu


def last_backup_event(workspace: Path) -> dict[str, Any]:
    lines = (workspace / "outputs" / "backup_log.jsonl").read_text(encoding="utf-8").splitlines()
    events: list[dict[str, Any]] = [json.loads(line) for line in lines]
    return [e for e in events if e["action"] == "backup"][-1]


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    restic = ensure_restic()
    workspace, repo = tmp / "ws", tmp / "restic-repo"
    autonomic = [sys.executable, "-m", "autonomic"]
    subprocess.run([*autonomic, "init", str(workspace)], check=True, capture_output=True)
    config = workspace / "autonomic.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("[backup]", '[backup]\ninclude = ["data/**"]', 1),
        encoding="utf-8",
    )
    print(f"making {args.files} files, {args.mb} MB in {workspace / 'data'} ...", flush=True)
    tree_bytes = make_tree(workspace / "data", args.files, args.mb, args.seed)
    time.sleep(2.5)  # past autonomic's "modified just now: don't trust the time stamp" window
    env = {**os.environ, "RESTIC_PASSWORD": "benchmark", "RESTIC_CACHE_DIR": str(tmp / "restic-cache")}
    subprocess.run([restic, "init", "--repo", str(repo)], check=True, capture_output=True, env=env)
    ours_cmd = [*autonomic, "backup", "run", "--workspace", str(workspace)]
    backups = workspace / "backups"
    restic_cmd = [restic, "backup", "--repo", str(repo), "--exclude", str(backups), str(workspace)]
    figures: dict[str, Any] = {"files": args.files, "tree_bytes": tree_bytes}
    for run_no in range(1, 2 + args.repeat):  # run 1 copies everything; every later run finds nothing changed
        print(f"run {run_no}: autonomic ...", flush=True)
        figures[f"autonomic_{run_no}_s"], figures[f"autonomic_{run_no}_cpu_s"] = timed(ours_cmd)
        figures[f"autonomic_{run_no}_inner_s"] = last_backup_event(workspace)["seconds"]
        figures[f"autonomic_{run_no}_disk"] = du(backups)
        print(f"run {run_no}: restic ...", flush=True)
        figures[f"restic_{run_no}_s"], figures[f"restic_{run_no}_cpu_s"] = timed(restic_cmd, env)
        figures[f"restic_{run_no}_disk"] = du(repo)
    for name in ("autonomic", "restic"):
        for kind in ("s", "cpu_s"):
            unchanged = [figures[f"{name}_{n}_{kind}"] for n in range(2, 2 + args.repeat)]
            figures[f"{name}_unchanged_median_{kind}"] = statistics.median(unchanged)
    figures["repeat"] = args.repeat
    figures["restic_version"] = subprocess.run(
        [restic, "version"], capture_output=True, text=True
    ).stdout.strip()
    return figures


def report(f: dict[str, Any]) -> bool:
    ours_added = f["autonomic_2_disk"] - f["autonomic_1_disk"]
    restic_added = f["restic_2_disk"] - f["restic_1_disk"]
    print(f"\ntree: {f['files']} files, {f['tree_bytes'] / 1e6:.1f} MB   ({f['restic_version']})")
    print(f"{'':22}{'1st run':>10}{'2nd run':>10}{'disk after 1st':>16}{'added by 2nd':>14}")
    for name, label in (("autonomic", "autonomic backup run"), ("restic", "restic backup")):
        added = ours_added if name == "autonomic" else restic_added
        print(
            f"{label:22}{f[f'{name}_1_s']:>9.2f}s{f[f'{name}_2_s']:>9.2f}s"
            f"{f[f'{name}_1_disk'] / 1e6:>13.1f} MB{added / 1e6:>11.2f} MB"
        )
    print(
        f"(autonomic's own timing, without process start-up: "
        f"{f['autonomic_1_inner_s']:.2f}s, {f['autonomic_2_inner_s']:.2f}s)"
    )
    print(
        "CPU seconds (user + system), 1st / 2nd run: "
        f"autonomic {f['autonomic_1_cpu_s']:.2f} / {f['autonomic_2_cpu_s']:.2f}, "
        f"restic {f['restic_1_cpu_s']:.2f} / {f['restic_2_cpu_s']:.2f}"
    )
    share = float(ours_added / f["autonomic_1_disk"])
    disk_ok = share < 0.05
    time_ok = bool(f["autonomic_2_s"] < f["restic_2_s"])
    print(
        f"{'PASS' if disk_ok else 'FAIL'}: second run adds {share * 100:.2f} % of the first's disk use (< 5 %)"
    )
    print(
        f"{'PASS' if time_ok else 'FAIL'}: second run {f['autonomic_2_s']:.2f}s vs restic's second run "
        f"{f['restic_2_s']:.2f}s"
    )
    f["autonomic_added_share"] = share
    if f["repeat"] > 1:
        ours, peer = f["autonomic_unchanged_median_s"], f["restic_unchanged_median_s"]
        print(
            f"{'PASS' if ours < peer else 'FAIL'}: median of {f['repeat']} unchanged runs (taking turns) "
            f"{ours:.2f}s vs restic's {peer:.2f}s"
        )
    return disk_ok and time_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--repeat", type=int, default=3, help="unchanged runs of each tool after the first")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.files < 1 or args.mb < 1 or args.repeat < 1:
        parser.error("--files, --mb and --repeat must be positive")
    tmp = Path(tempfile.mkdtemp(prefix="autonomic-backup-bench-"))
    try:
        figures = run(args, tmp)
        passed = report(figures)
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"backup-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"results: {out}")
    finally:
        if args.keep:
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
