"""Benchmarks run on any machine with the documented layout: their data locations come from options or
environment variables with defaults beside the checkout, never from one machine's absolute folders."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
# A path rooted in a folder that only exists on the machine a script was written on.
MACHINE_PATH = re.compile(r"(?<![\w$}.])/(?:work|home|Users|root|mnt|srv|data)/[\w.+-]+")


def test_no_benchmark_names_a_machine_specific_folder():
    offenders = [f"{path.name}:{number}: {line.strip()}"
                 for path in sorted(BENCH.iterdir()) if path.suffix in (".py", ".md", ".sh")
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if MACHINE_PATH.search(line)]
    assert offenders == []


def test_locations_follow_the_environment_and_default_beside_the_checkout(tmp_path):
    script = ("import locations, swebench_tasks as t; print(t.DEFAULT_TASKS); print(t.DEFAULT_MIRRORS); "
              "print(t.DEFAULT_REPOS_DIR); print(locations.corpus())")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_BENCH_")}
    run = lambda extra: subprocess.run([sys.executable, "-c", script], cwd=BENCH, env={**env, **extra},  # noqa: E731
                                       capture_output=True, text=True, check=True).stdout.split()
    checkout_parent = BENCH.parent.parent
    assert run({}) == [str(checkout_parent / "shared" / "bench" / "swebench_lite_dev.jsonl"),
                       str(checkout_parent / ".mirror"), str(checkout_parent / "corpus" / "swe"),
                       str(checkout_parent / "corpus")]
    chosen = {"ASSIST_BENCH_DATA": str(tmp_path / "d"), "ASSIST_BENCH_MIRRORS": str(tmp_path / "m"),
              "ASSIST_BENCH_CORPUS": str(tmp_path / "c")}
    assert run(chosen) == [str(tmp_path / "d" / "swebench_lite_dev.jsonl"), str(tmp_path / "m"),
                           str(tmp_path / "c" / "swe"), str(tmp_path / "c")]
