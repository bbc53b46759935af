"""Benchmark GridMap's exact p-median against spopt on OR-Library pmed instances.

Reads Beasley's instances (``pmed<k>.txt`` with ``pmed_optima.csv``) from the shared
benchmark folder, builds each n x n cost matrix the way the OR-Library page says
(edges read in turn so the last duplicate wins, then Floyd-Warshall), and solves it
with :class:`gridmap.care.location.PMedian` and with ``spopt.locate.PMedian`` (pulp +
CBC), side by side in the same run. Each line reports both objectives and times and
the published optimum; the last line is a JSON summary.

Timings cover building the model from the cost matrix and solving it, for both
(reading the file and Floyd-Warshall are shared and excluded). spopt runs in a child
process in its own session, so that a time-out can stop it and its CBC process; a
time-out prints ``spopt=NA spopt_s=LIMIT`` and counts as LIMIT seconds in
``spopt_total_s`` (so that total is a lower bound). ``solved_to_optimum`` counts
instances where GridMap both proved optimality and matched the published optimum.

Usage::

    python benchmarks/pmedian_orlib.py [--instances 1-20] [--spopt-limit 300] [--no-spopt]

The folder is ``$GRIDMAP_SHARED/benchmarks/pmed`` when ``GRIDMAP_SHARED`` is set,
else ``../shared/benchmarks/pmed`` beside the repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import floyd_warshall

REPO = Path(__file__).resolve().parents[1]


def pmed_dir() -> Path:
    """Folder of the OR-Library pmed files."""
    shared = os.environ.get("GRIDMAP_SHARED")
    base = Path(shared) if shared else REPO.parent / "shared"
    return base / "benchmarks" / "pmed"


def read_instance(path):
    """Return (cost matrix, p) of an OR-Library pmed file.

    Edges are read in turn into a dense matrix, so a duplicated edge keeps the last
    cost given (Beasley's rule), and Floyd-Warshall gives all-pairs shortest paths.
    """
    tokens = Path(path).read_text().split()
    n, m, p = (int(t) for t in tokens[:3])
    edges = np.array(tokens[3 : 3 + 3 * m], dtype=np.int64).reshape(m, 3)
    direct = np.full((n, n), np.inf)
    # Read in turn, so that a duplicated edge (in either orientation) keeps the last
    # cost given, as the OR-Library page prescribes.
    for i, j, c in edges.tolist():
        direct[i - 1, j - 1] = direct[j - 1, i - 1] = c
    np.fill_diagonal(direct, 0.0)
    rows, cols = np.nonzero(np.isfinite(direct) & (direct > 0))
    # A sparse graph keeps the matrix's own meaning of "no edge" (absent) apart from
    # a real edge; csgraph would read zeros of a dense matrix as missing edges.
    graph = coo_array((direct[rows, cols], (rows, cols)), shape=(n, n)).tocsr()
    dist = floyd_warshall(graph, directed=True)
    return dist, p


def read_optima(folder):
    with open(folder / "pmed_optima.csv", newline="") as fh:
        return {row["name"]: float(row["optimum"]) for row in csv.DictReader(fh)}


def parse_range(text):
    """'1-20' or '1,3,5-7' -> sorted list of ints."""
    out = set()
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        elif part:
            out.add(int(part))
    return sorted(out)


def solve_ours(cost, p):
    sys.path.insert(0, str(REPO))
    from gridmap.care.location import PMedian

    start = time.perf_counter()
    model = PMedian.from_cost_matrix(cost, p=p).solve()
    seconds = time.perf_counter() - start
    return model, seconds


def spopt_worker(path, limit):
    """Child process: build and solve spopt's PMedian, print JSON {value, seconds}."""
    import pulp
    from spopt.locate import PMedian as SpoptPMedian

    cost, p = read_instance(path)
    start = time.perf_counter()
    model = SpoptPMedian.from_cost_matrix(cost, np.ones(cost.shape[0]), p_facilities=p)
    left = max(1, int(limit - (time.perf_counter() - start)))
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=left))
    seconds = time.perf_counter() - start
    optimal = pulp.LpStatus[model.problem.status] == "Optimal"
    value = float(pulp.value(model.problem.objective))
    print(json.dumps({"value": value, "seconds": seconds, "optimal": optimal}))


def solve_spopt(path, limit):
    """Run spopt in a child session; return (value, seconds) or (None, limit)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--spopt-worker", str(path),
           "--spopt-limit", str(limit)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )
    try:
        # The worker's own clock starts after imports and the matrix build; allow them.
        out, _ = proc.communicate(timeout=limit + 60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, limit
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None, limit
    if not result["optimal"] or result["seconds"] > limit:
        return None, limit
    return result["value"], result["seconds"]


def fmt(value):
    return "NA" if value is None else f"{value:g}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default="1-20", help="e.g. 1-20 or 1,5,6-8")
    parser.add_argument("--spopt-limit", type=float, default=300.0,
                        help="seconds allowed to spopt per instance (default 300)")
    parser.add_argument("--no-spopt", action="store_true", help="run GridMap only")
    parser.add_argument("--spopt-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.spopt_worker:
        spopt_worker(args.spopt_worker, args.spopt_limit)
        return 0

    folder = pmed_dir()
    if not folder.is_dir():
        print(f"pmed folder not found: {folder} (set GRIDMAP_SHARED)", file=sys.stderr)
        return 2
    optima = read_optima(folder)
    summary = {"instances": 0, "solved_to_optimum": 0, "proven_optimal": 0,
               "ours_total_s": 0.0, "spopt_total_s": 0.0, "spopt_timeouts": 0,
               "ours_faster": 0}
    for k in parse_range(args.instances):
        name = f"pmed{k}"
        path = folder / f"{name}.txt"
        cost, p = read_instance(path)
        model, ours_s = solve_ours(cost, p)
        optimum = optima[name]
        if args.no_spopt:
            spopt_value, spopt_s = None, None
        else:
            spopt_value, spopt_s = solve_spopt(path, args.spopt_limit)
        summary["instances"] += 1
        summary["ours_total_s"] += ours_s
        if model.status == "optimal":
            summary["proven_optimal"] += 1
        if model.status == "optimal" and abs(model.objective - optimum) < 0.5:
            summary["solved_to_optimum"] += 1
        if spopt_s is not None:
            summary["spopt_total_s"] += spopt_s
            summary["spopt_timeouts"] += spopt_value is None
            summary["ours_faster"] += ours_s < spopt_s
        spopt_text = "" if args.no_spopt else (
            f" spopt={fmt(spopt_value)} spopt_s={spopt_s:.2f}"
            if spopt_value is not None else f" spopt=NA spopt_s={args.spopt_limit:g}"
        )
        print(f"{name} ours={fmt(model.objective)} ours_s={ours_s:.2f}{spopt_text} "
              f"optimum={optimum:g}", flush=True)
    summary["ours_total_s"] = round(summary["ours_total_s"], 2)
    if args.no_spopt:
        del summary["spopt_total_s"], summary["spopt_timeouts"], summary["ours_faster"]
    else:
        summary["spopt_total_s"] = round(summary["spopt_total_s"], 2)
        summary["spopt_limit_s"] = args.spopt_limit
    print(json.dumps(summary))
    return 0 if summary["solved_to_optimum"] == summary["instances"] else 1


if __name__ == "__main__":
    sys.exit(main())
