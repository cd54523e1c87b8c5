"""Where the benchmarks find their data. Each location is an environment variable whose default lies beside this
checkout, so a second machine with the same layout needs no settings and another layout needs one export:

- ``ASSIST_BENCH_CORPUS`` (default ``../corpus``): working clones and unpacked projects the benchmarks index.
- ``ASSIST_BENCH_MIRRORS`` (default ``../.mirror``): bare git mirrors, ``<owner>+<name>/repo`` (what `fetch` makes).
- ``ASSIST_BENCH_DATA`` (default ``../shared/bench``): the shared task files (SWE-bench Lite dev split).
"""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def _location(variable: str, default: Path) -> Path:
    return Path(os.environ.get(variable) or default)


def corpus() -> Path:
    return _location("ASSIST_BENCH_CORPUS", CHECKOUT.parent / "corpus")


def mirrors() -> Path:
    return _location("ASSIST_BENCH_MIRRORS", CHECKOUT.parent / ".mirror")


def shared_data() -> Path:
    return _location("ASSIST_BENCH_DATA", CHECKOUT.parent / "shared" / "bench")
