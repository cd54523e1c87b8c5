"""How often `assist edit`'s pipeline applies a well-formed edit, on requests mined from real projects.

Usage:  python bench/edit_bench.py [--projects pallets+click psf+requests …] [--per-project 4] [--model M]
                                   [--verify-tests]

A task is a non-merge commit of a mirrored project (``locations.mirrors()``: ``<owner>+<name>/repo``) whose
subject is an imperative request (Add/Make/Use/Allow/Remove/Return/Raise/… as its first word; fixes, docs,
tests, typing, CI and releases left out) and whose diff changes one non-test Python file in at most
``MAX_CHANGED`` lines. The project at the commit's parent is unpacked to a temporary directory; the request
is the subject; the known correct outcome is the file as the commit left it.

The oracle model (``scripted``) replies with the commit's own diff as search/replace blocks (hunks with
``CONTEXT`` lines around them), so every failure is the pipeline's: the share applied should be 100 %, and
an applied edit must leave the file byte-identical to the commit's. ``--model`` runs the same requests
with a real model (its share applied, the share identical to the commit, seconds and model replies per
request). The edit runs as `assist edit --yes --no-test`: one request, no fix rounds after it; "rounds" are
the model's replies (a reply that does not apply is sent back once). The retriever runs without vectors.

``--verify-tests`` also runs the project's own tests: a virtualenv per project under
``$ASSIST_BENCH_CORPUS/edit-venvs`` (made once, from PyPI, with the pinned ``TEST_DEPENDENCIES``), the checkout
installed into it editable, and the tests ``select_tests`` picks for the commit's file run at the parent and after
each applied edit. Tests that fail at the parent (this machine has no route for requests' connect-timeout tests,
for one) are deselected after the edit; a task whose tests cannot run at the parent at all (the install or the
collection fails) is counted "not verifiable" and left out of the share. An edit "applies and passes" when it
was written and the remaining tests pass — a test that fails is run once more alone and counts when it fails
again. Full pytest output: ``$ASSIST_BENCH_CORPUS/edit-venvs/logs/<commit>-{parent,oracle,model}.txt``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import locations  # noqa: E402

from indexer.graph import is_test_path  # noqa: E402

DEFAULT_PROJECTS = ("pallets+click", "psf+requests", "python-attrs+attrs", "marshmallow-code+marshmallow")
MAX_CHANGED = 30
CONTEXT = 4
SCANNED = 4000  # commits looked at per project, newest first
_IMPERATIVE = re.compile(r"^(Add|Make|Use|Allow|Remove|Return|Raise|Support|Handle|Avoid|Replace|Move|Skip|Drop|"
                         r"Ensure|Prefer|Show|Pass|Accept|Expose|Include|Let|Keep|Warn|Deprecate|Simplify|"
                         r"Improve|Change|Set|Store|Check|Validate|Convert|Treat|Reject|Respect|Emit|Clarify)\b")
_NOT_A_REQUEST = re.compile(r"\bfix|typo|typing|changelog|docs?\b|lint|\bci\b|pre-commit|bump|release|test|merge|"
                            r"revert|version|annotation|#\d+", re.IGNORECASE)


@dataclass
class Task:
    project: str
    commit: str
    parent: str
    path: str
    request: str


def _git(repo: Path, *args: str, text: bool = True):
    done = subprocess.run(["git", f"--git-dir={repo}", *args], capture_output=True, text=text, check=True)
    return done.stdout


def mine(project: str, limit: int) -> list[Task]:
    repo = locations.mirrors() / project / "repo"
    log = _git(repo, "log", "--no-merges", f"-n{SCANNED}", "--format=%H%x00%P%x00%s", "HEAD")
    tasks: list[Task] = []
    for line in log.splitlines():
        commit, parents, subject = line.split("\0")
        if " " in parents or not parents or not _IMPERATIVE.match(subject) or _NOT_A_REQUEST.search(subject):
            continue
        numstat = _git(repo, "diff", "--numstat", "-M", parents, commit).splitlines()
        if len(numstat) != 1:
            continue
        added, deleted, path = numstat[0].split("\t")
        if (not path.endswith(".py") or is_test_path(path) or "=>" in path or added == "-"
                or not 0 < int(added) + int(deleted) <= MAX_CHANGED or int(deleted) == 0):
            continue
        tasks.append(Task(project, commit, parents, path, subject))
        if len(tasks) >= limit:
            break
    return tasks


def oracle_reply(task: Task) -> str:
    """The commit's diff as search/replace blocks: each hunk's old lines (context and removed) → new lines."""
    repo = locations.mirrors() / task.project / "repo"
    diff = _git(repo, "diff", f"-U{CONTEXT}", task.parent, task.commit, "--", task.path)
    blocks, old, new, inside = [], [], [], False
    for line in diff.splitlines():
        if line.startswith("@@"):
            if inside:
                blocks.append((old, new))
            old, new, inside = [], [], True
        elif inside and line.startswith("\\"):
            continue  # "\ No newline at end of file"
        elif inside and line[:1] in (" ", "-", "+", ""):
            body = line[1:]
            if line[:1] in (" ", "", "-"):
                old.append(body)
            if line[:1] in (" ", "", "+"):
                new.append(body)
    if inside:
        blocks.append((old, new))
    return "\n".join(f"{task.path}\n<<<<<<< SEARCH\n" + "\n".join(o) + "\n=======\n" + "\n".join(n)
                     + "\n>>>>>>> REPLACE\n" for o, n in blocks)


def unpack(task: Task, into: Path) -> Path:
    repo = locations.mirrors() / task.project / "repo"
    archive = _git(repo, "archive", "--format=tar", task.parent, text=False)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


# ------------------------------------------------------------------------ the project's own tests

# What each project's tests need besides the project, pinned. One set per project serves all its mined commits
# (2021–2026): pytest 7 for requests, whose 2021 tests still call pytest.warns(None); urllib3 1.26 and idna 2.10
# satisfy both its 2021 bounds (<1.27, <3) and its 2024 ones; chardet for the 2021 code, which imports it; six for
# attrs' 2021 tests.
TEST_DEPENDENCIES = {
    "pallets+click": ["pytest==8.3.4"],
    "psf+requests": ["pytest==7.4.4", "pytest-httpbin==2.0.0", "httpbin==0.10.2", "pytest-mock==3.14.0",
                     "trustme==1.2.0", "PySocks==1.7.1", "urllib3==1.26.20", "idna==2.10", "chardet==4.0.0",
                     "charset-normalizer==3.4.1", "certifi==2024.12.14"],
    "python-attrs+attrs": ["pytest==8.3.4", "hypothesis==6.170.27", "pympler==1.1", "cloudpickle==3.1.0",
                           "zope.interface==7.2", "six==1.17.0"],
    "marshmallow-code+marshmallow": ["pytest==8.3.4", "pytz==2024.2", "simplejson==3.19.3", "packaging==24.2"],
}
# In every project's virtualenv: the build backends the checkouts declare, so that the editable install of each
# task's checkout needs no download (pip --no-build-isolation), and pytest-timeout, so that a test that hangs
# (one of requests' tests against the local httpbin does, here) fails instead of stopping the run.
COMMON_DEPENDENCIES = ["setuptools==75.8.0", "wheel==0.45.1", "flit_core==3.12.0", "hatchling==1.27.0",
                       "hatch-vcs==0.4.0", "hatch-fancy-pypi-readme==24.1.0", "editables==0.5",
                       "pytest-timeout==2.3.1"]
TEST_TIMEOUT_S = 900  # a whole run
TEST_TIMEOUT_EACH_S = 60  # one test


def select_tests(changed: str, test_files: list[str]) -> tuple[list[str], str]:
    """The project's tests for a change to ``changed`` and how they were chosen: the test files named after its
    module (``src/click/types.py`` → ``tests/test_types.py``, ``_make.py`` → ``test_make.py``), else the one
    named after its top package (``requests/api.py`` → ``tests/test_requests.py``), else the whole suite (the
    top folders holding test files) — also for a file in no package, such as ``setup.py``, which no test imports
    (the editable install before the tests runs it)."""
    pure = PurePosixPath(changed)
    packages = [part for part in pure.parts[:-1] if part not in ("src", "lib")]

    def named(stem: str) -> list[str]:
        return sorted(f for f in test_files if PurePosixPath(f).name in (f"test_{stem}.py", f"{stem}_test.py"))

    if packages:
        if pure.stem != "__init__" and (by_module := named(pure.stem.lstrip("_"))):
            return by_module, "module"
        if by_package := named(packages[0]):
            return by_package, "package"
    return sorted({PurePosixPath(f).parts[0] for f in test_files}), "suite"


def test_files(task: Task) -> list[str]:
    """The test modules of the project at the task's parent commit (pytest's default names)."""
    repo = locations.mirrors() / task.project / "repo"
    paths = _git(repo, "ls-tree", "-r", "--name-only", task.parent).splitlines()
    return [path for path in paths if is_test_path(path) and re.search(r"(^|/)(test_\w+|\w+_test)\.py$", path)]


def failing_tests(output: str) -> list[str]:
    """The node ids pytest's short summary (``-rfE``) names: ``FAILED tests/t.py::test_x[a] - AssertionError: …``
    and ``ERROR …`` lines (a test whose setup failed)."""
    found = []
    for line in output.splitlines():
        kind, _, rest = line.partition(" ")
        if kind in ("FAILED", "ERROR") and "::" in rest:
            found.append(rest.split(" - ", 1)[0])
    return list(dict.fromkeys(found))


@dataclass
class TestRun:
    __test__ = False
    exit_code: int | None  # pytest's (0 all passed, 1 some failed, 2+ could not run); None: not started or killed
    summary: str  # pytest's last line ("12 passed in 0.31s"), or why nothing ran
    seconds: float
    failing: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    @property
    def comparable(self) -> bool:
        """At the parent: the tests ran, and those that failed are named, so the rest can be run after the edit."""
        return self.exit_code == 0 or (self.exit_code == 1 and bool(self.failing))


class ProjectTests:
    """Runs one project's tests in its own virtualenv: made once (under the bench cache, outside the repository)
    and remade only when the pins change; each checkout is installed into it editable before its tests run."""

    def __init__(self, project: str):
        if project not in TEST_DEPENDENCIES:
            raise SystemExit(f"--verify-tests: no test dependencies are known for {project} (add them to "
                             "TEST_DEPENDENCIES in bench/edit_bench.py)")
        self.project = project
        self.venv = locations.corpus() / "edit-venvs" / project
        self.python = self.venv / "bin" / "python"
        self.logs = locations.corpus() / "edit-venvs" / "logs"
        self.pins = sorted(TEST_DEPENDENCIES[project] + COMMON_DEPENDENCIES)

    def ensure(self) -> None:
        stamp = self.venv / "pins.sha256"
        wanted = hashlib.sha256("\n".join(self.pins).encode()).hexdigest()
        if stamp.is_file() and stamp.read_text() == wanted and self.python.is_file():
            print(f"{self.project}: test virtualenv {self.venv} (installed: {self.venv / 'installed.txt'})")
            return
        print(f"{self.project}: making the test virtualenv {self.venv} with {' '.join(self.pins)}", flush=True)
        shutil.rmtree(self.venv, ignore_errors=True)
        self._check([sys.executable, "-m", "venv", str(self.venv)], "making the virtualenv")
        self._check([str(self.python), "-m", "pip", "install", "-q", *self.pins], "installing the test dependencies")
        frozen = self._check([str(self.python), "-m", "pip", "freeze", "--all"], "listing the installed packages")
        (self.venv / "installed.txt").write_text(frozen)
        print(f"{self.project}: installed {' '.join(frozen.split())}")
        stamp.write_text(wanted)

    def after_edit(self, root: Path, tests: list[str], label: str, version: str, deselect: list[str]) -> TestRun:
        """``run``, and the tests that failed run once more on their own: a failure counts when it repeats. (Click's
        pager test, ``test_echo_via_pager[test6-…]``, fails now and then on an unchanged checkout.)"""
        first = self.run(root, tests, label, version, deselect)
        if first.exit_code != 1 or not first.failing:
            return first
        again = self.run(root, first.failing, f"{label}-rerun", version)
        return TestRun(again.exit_code, f"{first.summary}; the {len(first.failing)} failing run again: {again.summary}",
                       first.seconds + again.seconds, again.failing)

    def run(self, root: Path, tests: list[str], label: str, version: str, deselect: list[str] = ()) -> TestRun:
        """Install the checkout at ``root`` editable, then run ``tests`` there but ``deselect`` (node ids); the full
        output goes to the log."""
        started = time.monotonic()
        env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
        # hatch-vcs (attrs) and setuptools-scm read the version from git, which an unpacked archive has not.
        # COLUMNS: pytest cuts its summary lines to the terminal's width, node ids included.
        env.update(PATH=f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", PYTHONDONTWRITEBYTECODE="1",
                   SETUPTOOLS_SCM_PRETEND_VERSION=version, COLUMNS="100000")
        install = subprocess.run([str(self.python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                                  "-e", str(root)], cwd=root, env=env, capture_output=True, text=True)
        log = self.logs / f"{label}.txt"
        log.parent.mkdir(parents=True, exist_ok=True)
        if install.returncode:
            log.write_text(install.stdout + install.stderr)
            return TestRun(None, f"the editable install failed (see {log})", time.monotonic() - started)
        command = [str(self.python), "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider",
                   f"--timeout={TEST_TIMEOUT_EACH_S}", *tests, *(f"--deselect={node}" for node in deselect)]
        try:
            done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=TEST_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return TestRun(None, f"timed out after {TEST_TIMEOUT_S} s", time.monotonic() - started)
        output = done.stdout + done.stderr
        log.write_text(" ".join(command) + "\n" + output)
        lines = [line for line in done.stdout.splitlines() if line.strip()]  # stderr has httpbin's request log
        summary = lines[-1].strip("= ") if lines else f"exit {done.returncode}"
        return TestRun(done.returncode, summary, time.monotonic() - started, failing_tests(output))

    def _check(self, command: list[str], what: str) -> str:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [f"exit {done.returncode}"]
            raise SystemExit(f"--verify-tests: {what} for {self.project} failed: {last[0]}")
        return done.stdout


def release_before(task: Task) -> str:
    """The newest release tag at the parent, as a version (what the checkout would call itself if it had git)."""
    repo = locations.mirrors() / task.project / "repo"
    try:
        tag = _git(repo, "describe", "--tags", "--abbrev=0", task.parent).strip()
    except subprocess.CalledProcessError:
        return "0.0.0"
    return tag.removeprefix("v") if re.fullmatch(r"v?\d+(\.\d+)*", tag) else "0.0.0"


# ----------------------------------------------------------------------------------- the edits


@dataclass
class Outcome:
    status: str  # EditResult.status: "applied", "answered", "not_applied", …
    identical: bool  # the file is byte-identical to the commit's
    seconds: float
    rounds: int  # the model's replies
    tests: TestRun | None = None  # the selected tests after the edit (only for an applied edit of a verifiable task)

    @property
    def applied(self) -> bool:
        return self.status == "applied"

    @property
    def passes(self) -> bool:
        return self.applied and self.tests is not None and self.tests.passed


def run_edit(root: Path, task: Task, provider) -> Outcome:
    """One `assist edit --yes --no-test` run of the task's request at ``root``."""
    from assistant.edit.run import EditOptions, EditRun
    from assistant.fix.events import ReplyReceived

    started = time.monotonic()
    run = EditRun(root, provider, task.request, [], EditOptions(run_tests=False, use_vectors=False, sandbox="off"))
    rounds = sum(isinstance(event, ReplyReceived) for event in run.run())
    seconds = time.monotonic() - started
    repo = locations.mirrors() / task.project / "repo"
    expected = _git(repo, "show", f"{task.commit}:{task.path}", text=False)
    return Outcome(run.result.status, (root / task.path).read_bytes() == expected, seconds, rounds)


@dataclass
class Row:
    task: Task
    verifiable: bool | None  # None: the tests were not run
    deselected: int  # selected tests that failed at the parent, left out after the edit
    oracle: Outcome
    real: Outcome | None


def run_task(task: Task, tmp: Path, model: str | None, base_url: str | None,
             tests: ProjectTests | None) -> Row:
    from assistant.providers.scripted import ScriptedProvider

    root = unpack(task, tmp / "project")
    base = tmp / "base"
    shutil.copytree(root, base, symlinks=True)
    selected, known_failing, version = [], [], release_before(task)
    verifiable = None
    if tests is not None:
        selected, how = select_tests(task.path, test_files(task))
        parent = tmp / "parent"
        shutil.copytree(base, parent, symlinks=True)
        before = tests.run(parent, selected, f"{task.commit[:10]}-parent", version)
        verifiable = before.comparable
        # What already fails at the parent says nothing about the edit: the edit must keep the rest passing.
        known_failing = before.failing if verifiable else []
        print(f"  tests ({how}) {' '.join(selected)} at the parent: {before.summary} ({before.seconds:.0f} s)"
              + (f"; {len(known_failing)} failing there are deselected after the edit" if known_failing else "")
              + ("" if verifiable else " → not verifiable"), flush=True)

    def attempt(provider, label: str) -> Outcome:
        outcome = run_edit(root, task, provider)
        if verifiable and outcome.applied:
            outcome.tests = tests.after_edit(root, selected, f"{task.commit[:10]}-{label}", version, known_failing)
        return outcome

    oracle = attempt(ScriptedProvider([oracle_reply(task)], name="scripted:oracle"), "oracle")
    real = None
    if model:
        from assistant.fix.models import open_model

        shutil.rmtree(root)
        shutil.copytree(base, root, symlinks=True)
        real = attempt(open_model(root, model, base_url), "model")
    return Row(task, verifiable, len(known_failing), oracle, real)


def _describe(outcome: Outcome) -> str:
    tests = f" tests {'pass' if outcome.tests.passed else 'FAIL'}" if outcome.tests else ""
    return (f"{outcome.status:11} {'same' if outcome.identical else 'differs'}{tests} {outcome.seconds:5.1f} s "
            f"{outcome.rounds} repl{'y' if outcome.rounds == 1 else 'ies'}")


def summary_table(rows: list[Row], model: str | None) -> str:
    """Markdown: per model, applied / identical / applies and passes (of the verifiable tasks), median seconds and
    rounds."""
    verified = any(row.verifiable is not None for row in rows)
    verifiable = [row for row in rows if row.verifiable]
    lines = ["| model | tasks | applied | identical to the commit | applies and passes the tests | median s | "
             "median rounds |", "|---|---|---|---|---|---|---|"]
    for name, pick in (("oracle", lambda row: row.oracle), (model, lambda row: row.real)):
        if name is None:
            continue
        outcomes = [pick(row) for row in rows]
        passing = (f"{sum(pick(row).passes for row in verifiable)}/{len(verifiable)} verifiable"
                   if verified else "not run")
        lines.append(f"| {name} | {len(rows)} | {sum(o.applied for o in outcomes)} | "
                     f"{sum(o.applied and o.identical for o in outcomes)} | {passing} | "
                     f"{statistics.median(o.seconds for o in outcomes):.1f} | "
                     f"{statistics.median(o.rounds for o in outcomes):g} |")
    if verified:
        dropped = [row.task.commit[:10] for row in rows if not row.verifiable]
        partly = [f"{row.task.commit[:10]} ({row.deselected})" for row in verifiable if row.deselected]
        broken = [row.task.commit[:10] for row in verifiable if row.oracle.identical and not row.oracle.passes]
        lines += ["", f"verifiable: {len(verifiable)} of {len(rows)}; not verifiable (the selected tests could not run "
                      f"at the parent): {', '.join(dropped) or 'none'}",
                  f"tests failing at the parent, deselected after the edit: {', '.join(partly) or 'none'}",
                  f"the commit itself fails the selected tests: {', '.join(broken) or 'none'}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", nargs="+", default=list(DEFAULT_PROJECTS))
    parser.add_argument("--per-project", type=int, default=4)
    parser.add_argument("--model", help="also run each request with this model (e.g. ollama:qwen2.5-coder:7b)")
    parser.add_argument("--base-url")
    parser.add_argument("--verify-tests", action="store_true",
                        help="run the project's own tests at the parent and after each applied edit")
    args = parser.parse_args(argv)

    tasks = [task for project in args.projects for task in mine(project, args.per_project)]
    testers: dict[str, ProjectTests] = {}
    if args.verify_tests:
        for project in dict.fromkeys(task.project for task in tasks):
            testers[project] = ProjectTests(project)
            testers[project].ensure()
    rows = []
    for task in tasks:
        print(f"{task.project:32} {task.commit[:10]} {task.path:40.40} {task.request[:60]}", flush=True)
        with tempfile.TemporaryDirectory(prefix="edit-bench-") as tmp:
            row = run_task(task, Path(tmp), args.model, args.base_url, testers.get(task.project))
        rows.append(row)
        print(f"  oracle {_describe(row.oracle)}" + (f" | {args.model} {_describe(row.real)}" if row.real else "")
              + f"  (load {os.getloadavg()[0]:.1f})", flush=True)
    if not rows:
        print("no tasks found: are the mirrors there? (ASSIST_BENCH_MIRRORS)")
        return 1
    print("\n" + summary_table(rows, args.model))
    print("load average: " + " ".join(f"{value:.1f}" for value in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
