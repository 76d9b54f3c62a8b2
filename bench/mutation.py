"""Mutation testing of the modules where a silent bug hurts people, with mutmut.

    .venv/bin/python bench/mutation.py [GROUP ...] [--list] [--children 2] [--keep] [--json]

For each group (all by default; --list names them, their modules and tests), a copy of
the project (the files git tracks, plus uncommitted ones) is made in a temporary folder,
mutmut is configured to mutate the group's modules and to run the group's test files,
and `mutmut run` plants one small bug at a time (a flipped comparison, a changed
constant, a removed call) and runs the tests that cover the mutated function. A mutant
is caught when a test fails (killed) or the tests run past their time limit (timeout: a
loop that never ends). Prints, per module: mutants, killed, survived, not covered by any
of the group's tests, timeouts, and the score ((killed + timeout) / all); with --json,
the same and the survivors' names (`mutmut show NAME` in the copy shows the diff; the
copy is kept with --keep).

Not part of `make test`: all groups took 37 minutes on 2 cores (this machine, idle). The group's tests are
the ones that call the module's code directly or through the real pipeline. Each
mutant's tests run in a fresh pytest process forked from mutmut's fork server; the
session fixtures (the bundled index, the red flags' example vectors) are built once per
group, from the unmutated code, and copied (ARTICLEBOT_TEST_CACHE, tests/conftest.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["bot", "common", "console", "convlog", "corpus", "embeddings", "insights", "presentation", "retrieval", "tests"]
# name: (modules to mutate, test files, pytest -k expression choosing the tests that call them)
GROUPS = {
    "safety": (["retrieval/safety.py"], ["tests/test_safety_rules.py", "tests/test_safety.py", "tests/test_blind_spots.py"],
               "not pipeline and not ask and not run"),
    "meaning": (["retrieval/redflag_meaning.py"], ["tests/test_safety_rules.py", "tests/test_safety.py", "tests/test_redflags_eval.py"], ""),
    "refusal": (["retrieval/gate.py", "retrieval/passages.py", "retrieval/pipeline.py"],
                ["tests/test_refusal.py", "tests/test_gate.py", "tests/test_blind_spots.py", "tests/test_followups.py"],
                "not ask and not run and not cli and not chat_json"),
    "disclaimer": (["presentation/reply.py", "presentation/plain.py", "presentation/telegram_html.py"], ["tests/test_render.py", "tests/test_render_rules.py"], ""),
    "reuse": (["retrieval/reuse.py", "retrieval/vectorcache.py"], ["tests/test_reuse.py", "tests/test_blind_spots.py"],
              "not blind_spots or reindex or reused or another_model"),
    "pseudonyms": (["convlog/pseudonyms.py"], ["tests/test_pseudonyms.py", "tests/test_convlog.py", "tests/test_blind_spots.py"],
                   "(salt or hmac or raw_user_ids_only or pseudonym) and not ask and not bot"),
    "retention": (["convlog/retention.py"], ["tests/test_retention.py", "tests/test_operator_errors.py"], "retention or purge or age"),
    "webhook": (["bot/telegram/webhook.py", "bot/telegram/admin.py"], ["tests/test_webhook_admin.py", "tests/test_reindex.py"],
                "webhook_admin or private_chat or remembered_folder"),
    "ratelimit": (["bot/telegram/ratelimit.py"], ["tests/test_ratelimit.py", "tests/test_blind_spots.py"], "rate_limit or prun or limit_of_one or zero_turns"),
}  # fmt: skip
STATUS = re.compile(r"^\s*(\S+?)__mutmut_\d+:\s*(.+?)\s*$")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
TIME_LIMIT = 3600  # seconds per group


def project_files() -> list[str]:
    """What git tracks, and new files not ignored (the work in progress is measured too)."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return [line for line in out.splitlines() if line and (ROOT / line).is_file()]


def copy_project(target: Path) -> None:
    for name in project_files():
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest)


# Each mutant's tests run in a process forked from mutmut's fork server, which has imported
# the tests but run none: a fork of a process that ran them (model threads, SQLAlchemy
# pools, servers in threads) can inherit a held lock and hang.
def configure(target: Path, modules: list[str], tests: list[str], chosen: str = "") -> None:
    lines = [
        "", "[tool.mutmut]",
        'process_isolation = "forkserver"',
        # a mutant is stopped (and counted as a timeout, not a kill) after 6 × (its tests' own time + 10 s):
        # mutmut's default (30 ×) lets a mutant that loops forever hold a core for minutes
        "timeout_multiplier = 3.0", "timeout_constant = 10.0",
        f"source_paths = {json.dumps(modules)}",
        f"also_copy = {json.dumps(PACKAGES)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        f'pytest_add_cli_args = ["-q", "-p", "no:cacheprovider", "-k", {json.dumps(f"not postgresql and ({chosen})" if chosen else "not postgresql")}]',
    ]  # fmt: skip
    with open(target / "pyproject.toml", "a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def unmeasured(modules: list[str]) -> dict[str, dict]:
    """Per module: no mutant counted yet, no score."""
    return {m: {"mutants": 0, "killed": 0, "survived": 0, "no_tests": 0, "timeout": 0, "other": 0, "survivors": [], "score": None}
            for m in modules}  # fmt: skip


def score(target: Path, modules: list[str]) -> dict[str, dict]:
    """Per module: counts by status, the score, the survivors."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=target, capture_output=True, text=True)
    found = unmeasured(modules)
    names = {m: m.removesuffix(".py").replace("/", ".") for m in modules}
    for line in out.stdout.splitlines():
        match = STATUS.match(line)
        if not match:
            continue
        key, status = match.groups()
        module = next((m for m, dotted in names.items() if key.startswith(dotted + ".")), None)
        if module is None:
            continue
        entry = found[module]
        entry["mutants"] += 1
        status = status.replace(" ", "_")
        if status in ("killed", "survived", "no_tests", "timeout"):
            entry[status] += 1
        else:
            entry["other"] += 1
        if status in ("survived", "no_tests"):
            entry["survivors"].append(line.split(":")[0].strip())
    for entry in found.values():
        # a mutant that makes the tests run past their time limit (a loop that never ends) is caught too
        entry["score"] = round((entry["killed"] + entry["timeout"]) / entry["mutants"], 3) if entry["mutants"] else None
    return found


def run_group(name: str, children: int, keep: bool, skip: tuple[str, ...] = ()) -> dict:
    modules, tests, chosen = GROUPS[name]
    used = [t for t in tests if t not in skip and (ROOT / t).is_file()]
    if not used:  # pytest would collect every test file, and mutmut count "no test ran" as a kill
        return {"group": name, "seconds": 0, "tests": [], "modules": unmeasured(modules)}
    folder = Path(tempfile.mkdtemp(prefix=f"articlebot-mutation-{name}-"))
    started = time.perf_counter()
    try:
        copy_project(folder)
        configure(folder, modules, used, chosen)
        mutmut = [sys.executable, "-m", "mutmut", "run", "--max-children", str(children)]
        # the session fixtures (the bundled index, the red flags' example vectors) are built once
        # by mutmut's first test run and copied by every later one (tests/conftest.py built_once)
        # and each test process computes on one thread: with --children 2 on 2 cores, an embedding
        # model's OpenMP threads would otherwise spin against each other
        env = {**os.environ, "ARTICLEBOT_TEST_CACHE": str(folder / ".fixtures"), **ONE_THREAD}
        try:
            done = subprocess.run(mutmut, cwd=folder, capture_output=True, text=True, timeout=TIME_LIMIT, env=env)
            if "Failed to run clean test" in done.stdout or "failed to collect stats" in done.stdout:
                tail = "\n".join(done.stdout.replace("\r", "\n").splitlines()[-15:])
                print(f"{name}: mutmut could not run the group's tests cleanly:\n{tail}", file=sys.stderr)
        except subprocess.TimeoutExpired:
            print(f"{name}: stopped after {TIME_LIMIT} s; the figures count what was tried", file=sys.stderr)
        result = {"group": name, "seconds": round(time.perf_counter() - started), "tests": used, "modules": score(folder, modules)}
        if keep:
            result["folder"] = str(folder)
        return result
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", help="groups to run (default: all)")
    parser.add_argument("--list", action="store_true", help="name the groups, their modules and tests")
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--keep", action="store_true", help="keep each group's copy (to `mutmut show` a survivor)")
    parser.add_argument("--skip-tests", action="append", default=[], metavar="FILE",
                        help="leave this test file out (e.g. to measure the suite before a file was added)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.list:
        for name, (modules, tests, chosen) in GROUPS.items():
            print(f"{name:<11} {' '.join(modules)}  <-  {' '.join(tests)}{f'  -k {chosen!r}' if chosen else ''}")
        return 0
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; --list names them")
    results = []
    for name in args.groups or list(GROUPS):
        result = run_group(name, args.children, args.keep, tuple(args.skip_tests))
        results.append(result)
        if not args.json:
            for module, entry in result["modules"].items():
                if not result["tests"]:
                    print(f"{name:<11} {module:<34} no test file of the group selected: not measured")
                    continue
                shown = "-" if entry["score"] is None else f"{entry['score']:.0%}"
                print(f"{name:<11} {module:<34} mutants {entry['mutants']:>4}  killed {entry['killed']:>4}  survived {entry['survived']:>3}"
                      f"  no tests {entry['no_tests']:>3}  timeout {entry['timeout']:>2}  score {shown:>4}   ({result['seconds']} s)")  # fmt: skip
            sys.stdout.flush()
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
