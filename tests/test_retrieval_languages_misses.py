"""Misses found on the multilingual tuning set (issue 15): files around the code (a Maven pom.xml, a CI
script under a hidden directory) ranked above the source file a fix changed, and a Java constructor took the
mention of its class's name from the method a fix changed. Real indexer, an invented Java project."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixture_graphs import indexed_project

from indexer.retrieval import RetrievalConfig, Retriever

SOURCE = "src/main/java/org/example/calendar/WeekYear.java"
VENDORED = "_vendored/weekmath/WeekMath.java"  # the indexer skips vendor/ and third_party/ outright

FILES = {
    # The build file and the release script repeat the words of a release query far more than the code does.
    "pom.xml": """
<project>
  <groupId>org.example</groupId>
  <artifactId>calendar</artifactId>
  <version>1.0-SNAPSHOT</version>
  <description>week year calendar: snapshot release of the week year calendar</description>
  <distributionManagement>
    <snapshotRepository><id>snapshot</id><name>snapshot release</name></snapshotRepository>
  </distributionManagement>
</project>
""",
    ".buildscript/release_snapshot.sh": """
#!/bin/bash
# Release a snapshot of the week year calendar: snapshot release when the week year build passes.
release_snapshot() {
  echo "snapshot release of the week year calendar"
  mvn deploy -Psnapshot-release
}
""",
    SOURCE: """
package org.example.calendar;

public final class WeekYear {
  private final int year;
  private final int week;

  public WeekYear(int year, int week) {
    this.year = year;
    this.week = week;
  }

  public WeekYear(String text) {
    this(Integer.parseInt(text.substring(0, 4)), Integer.parseInt(text.substring(6)));
  }

  /** The week year after this one, rolling over after the last week of the year. */
  public WeekYear nextWeek() {
    if (week >= weeksInYear(year)) {
      return new WeekYear(year + 1, 1);
    }
    return new WeekYear(year, week + 1);
  }

  static int weeksInYear(int year) {
    return year % 4 == 0 ? 53 : 52;
  }
}
""",
    # A vendored copy of another library shares the project's words without being its code.
    VENDORED: """
package weekmath;

/** Week year arithmetic: the next week, the last week of a year, years with 53 weeks. */
public final class WeekMath {
  /** The week after a week of a year, rolling over after the last week of the year (52 or 53 weeks). */
  public static int nextWeek(int year, int week) {
    return week >= weeksInYear(year) ? 1 : week + 1;
  }

  /** Weeks in a year: 53 weeks in a long year, 52 weeks otherwise. */
  static int weeksInYear(int year) {
    return year % 4 == 0 ? 53 : 52;
  }
}
""",
    # Docs are no build file: a question about installing finds them first.
    "README.md": """
# calendar

Install the calendar library by adding org.example:calendar to your dependencies; install it once per project.
""",
    # Named with a word of every commit message: "Fix ..." must not find it.
    "src/main/java/org/example/calendar/Positions.java": """
package org.example.calendar;

final class Positions {
  /** Fix a position after a bug in the reader: the position is moved back to the start of its line. */
  static int fixPosition(int position, int lineStart) {
    return Math.max(position, lineStart);
  }
}
""",
    "src/main/java/org/example/calendar/Calendar.java": """
package org.example.calendar;

public final class Calendar {
  public WeekYear today() {
    return new WeekYear(2024, 1);
  }
}
""",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return indexed_project(tmp_path_factory.mktemp("calendar"), FILES)


def ranked_files(root: Path, query: str) -> list[str]:
    with Retriever(root, RetrievalConfig(), use_vectors=False) as retriever:
        return [hit.path for hit in retriever.search(query, top=5, kind="file")]


def ranked_symbols(root: Path, query: str) -> list[str]:
    with Retriever(root, RetrievalConfig(), use_vectors=False) as retriever:
        return [hit.symbol.rpartition("::")[2] for hit in retriever.search(query, top=10) if hit.symbol]


def test_build_files_and_ci_scripts_rank_below_the_source_a_query_is_about(project):
    files = ranked_files(project, "snapshot release: next week after the last week of a year with 53 weeks")
    assert files[:2] == [SOURCE, "src/main/java/org/example/calendar/Calendar.java"], files


def test_a_vendored_copy_ranks_below_the_projects_own_code_unless_named(project):
    query = "next week after the last week of a year with 53 weeks"
    files = ranked_files(project, query)
    assert files[0] == SOURCE, files
    assert files.index(VENDORED) > 1, files
    named = ranked_files(project, f"{query} in {VENDORED}")
    assert VENDORED in named[:2], named  # a mention lifts it again, as for pom.xml


def test_docs_are_not_set_aside_like_build_files(project):
    files = ranked_files(project, "install calendar dependencies once per project")
    assert "README.md" in files[:2], files  # set aside like pom.xml, it fell below every source file


def test_a_query_naming_a_build_file_still_finds_it_first(project):
    files = ranked_files(project, "bump the snapshot version in pom.xml for the week year release")
    # The source file the words also fit may stay first; the named build file is not pushed below the rest.
    assert "pom.xml" in files[:2], files


def test_a_class_name_in_the_query_finds_the_class_and_its_method_not_its_constructors(project):
    symbols = ranked_symbols(project, "WeekYear rolls over to the next week too late in years of 53 weeks")
    assert symbols.index("WeekYear.nextWeek") < min(
        (symbols.index(s) for s in symbols if s.startswith("WeekYear.WeekYear")), default=len(symbols)), symbols
    assert symbols[0] == "WeekYear", symbols


def test_a_constructor_is_still_found_by_its_qualified_name(project):
    symbols = ranked_symbols(project, "WeekYear.WeekYear(String) throws on a short text")
    constructors = [s for s in symbols[:3] if s.startswith("WeekYear.WeekYear")]
    assert constructors and symbols.index(constructors[0]) < symbols.index("WeekYear.nextWeek"), symbols


def test_report_words_in_a_commit_message_do_not_find_symbols_named_with_them(project):
    symbols = ranked_symbols(project, "Fix bug: years with 53 weeks")
    assert symbols[0] == "WeekYear.weeksInYear", symbols
    assert not [s for s in symbols[:3] if s.startswith("Positions")], symbols


def test_a_backticked_report_word_still_names_its_symbol(project):
    symbols = ranked_symbols(project, "`fixPosition` moves the position past the `lineStart`")
    assert symbols[0] == "Positions.fixPosition", symbols
