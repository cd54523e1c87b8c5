"""One slash-command table and one `/fix` argument parser (``assistant/slash.py``) for the TUI and ACP.

Before, each front end kept its own table and parser, and they disagreed: ACP refused an unknown option,
the TUI handed it to pytest as a test path. Now both refuse it, naming the one option there is.
"""

from __future__ import annotations

import pytest

from assistant import slash
from assistant.slash import FIX_USAGE, parse_fix_arguments


@pytest.mark.parametrize("argument, expected", [
    ("", (None, None)),
    ("   ", (None, None)),
    ("tests/test_pricing.py", (["tests/test_pricing.py"], None)),
    (" tests/a.py  'tests/with space.py' ", (["tests/a.py", "tests/with space.py"], None)),
    ("--cmd make test", (None, "make test")),
    ('--cmd npm test -- --grep "totals"', (None, 'npm test -- --grep "totals"')),
    ("--cmd\tpytest -x tests/", (None, "pytest -x tests/")),
    ("--cmd echo 'unbalanced", (None, "echo 'unbalanced")),  # the command is the shell's to read
])
def test_fix_arguments(argument, expected):
    assert parse_fix_arguments(argument) == expected


@pytest.mark.parametrize("argument, named", [
    ("-x tests/", "-x"),
    ("tests/ -k totals", "-k"),
    ("--lf", "--lf"),
    ("--cmdline make", "--cmdline"),
    ("tests/a.py --cmd make", "--cmd"),  # --cmd comes first, or it is not the option
])
def test_an_unknown_option_is_refused_naming_the_one_there_is(argument, named):
    with pytest.raises(ValueError) as refused:
        parse_fix_arguments(argument)
    message = str(refused.value)
    assert f"unknown option {named!r}" in message and "--cmd COMMAND" in message and FIX_USAGE in message


@pytest.mark.parametrize("argument, reason", [("--cmd", "--cmd needs a command"),
                                              ("--cmd   ", "--cmd needs a command"),
                                              ("'tests/a.py", "cannot read the /fix arguments")])
def test_unusable_arguments_say_why_and_how(argument, reason):
    with pytest.raises(ValueError, match=reason) as refused:
        parse_fix_arguments(argument)
    assert FIX_USAGE in str(refused.value)


def test_both_front_ends_read_the_one_table():
    from assistant.acp import agent
    from assistant.tui import slash as tui_slash

    assert all(command in slash.COMMANDS for command in tui_slash.COMMANDS)
    assert all(command in slash.COMMANDS for command in agent.COMMANDS)
    assert [c.name for c in agent.COMMANDS] == ["clear", "reindex", "fix", "edit", "undo"]
    assert {"help", "add", "drop", "context", "model", "quit", "fix", "edit", "undo", "reindex", "clear"} == set(tui_slash.BY_NAME)
    fix = tui_slash.BY_NAME["fix"]
    assert fix is next(c for c in agent.COMMANDS if c.name == "fix") and fix.hint and not fix.args


@pytest.mark.parametrize("text, expected", [
    ("/fix tests/a.py", ("fix", "tests/a.py", "fix")),
    ("  /FIX  --cmd make  ", ("fix", "--cmd make", "fix")),
    ("/frobnicate now", ("frobnicate", "now", None)),
    ("/add x", ("add", "x", None)),  # a TUI command, not an ACP one
])
def test_parse_against_a_front_ends_commands(text, expected):
    parsed = slash.parse(text, slash.commands_for(slash.ACP))
    assert (parsed.name, parsed.argument, parsed.command and parsed.command.name) == expected


@pytest.mark.parametrize("text", ["what does /fix do?", "//fix is a question", "", "fix"])
def test_text_that_is_a_question_is_not_a_command(text):
    assert slash.parse(text, slash.COMMANDS) is None
