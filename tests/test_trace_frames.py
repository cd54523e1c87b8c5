"""Stack frames whose line numbers come from another version of the file (an installed package, an old log):
the function name the frame gives wins over the line it names."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from indexer.pipeline import index_repository
from indexer.retrieval import Retriever, parse_query

# A protocol stub named `send` near the top and the real `Session.send` further down, as in requests' sessions.py.
SESSIONS = textwrap.dedent('''
    from typing import Protocol


    class Transport(Protocol):
        def send(self, request, **kwargs): ...


    class Session:
        def request(self, method, url, **kwargs):
            prepared = self.prepare(method, url)
            return self.send(prepared, **kwargs)

        def prepare(self, method, url):
            return (method, url)

        def post(self, url, data=None, **kwargs):
            note = "posting"
            payload = {"data": data}
            return self.request("POST", url, data=payload, **kwargs)

        def get(self, url, **kwargs):
            return self.request("GET", url, **kwargs)

        def send(self, request, **kwargs):
            adapter = self.get_adapter(request)
            response = adapter.send(request, **kwargs)
            return response

        def get_adapter(self, request):
            return Adapter()


    class Adapter:
        def send(self, request, **kwargs):
            raise ConnectionError("refused")
''')

POST_LINE = SESSIONS.splitlines().index('        note = "posting"') + 1

# Line numbers from an older release: the `send` frame points into what is `post` in this checkout.
TRACE = textwrap.dedent(f'''
    Traceback (most recent call last):
      File "/usr/lib/python3/site-packages/web/sessions.py", line {POST_LINE}, in send
        response = adapter.send(request, **kwargs)
      File "/usr/lib/python3/site-packages/web/sessions.py", line 2, in send
        raise ConnectionError("refused")
    ConnectionError: refused
''')


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    repo: Path = tmp_path_factory.mktemp("frames") / "repo"
    (repo / "web").mkdir(parents=True)
    (repo / "web" / "__init__.py").write_text("")
    (repo / "web" / "sessions.py").write_text(SESSIONS)
    index_repository(repo)
    with Retriever(repo, use_vectors=False) as opened:
        yield opened


def test_a_frame_keeps_the_source_line_python_printed_under_it():
    frames = parse_query(TRACE).frames
    assert [f.name for f in frames] == ["send", "send"]
    assert frames[1].source == "response = adapter.send(request, **kwargs)"


def test_the_frame_name_wins_over_a_line_from_another_version(retriever):
    hits = [hit.symbol for hit in retriever.search(TRACE, top=3)]
    assert hits[0] in ("web/sessions.py::Session.send", "web/sessions.py::Adapter.send")
    assert "web/sessions.py::Session.send" in hits
    assert "web/sessions.py::Session.post" not in hits[:2]
    assert "web/sessions.py::Transport.send" not in hits[:2]


def test_of_two_definitions_with_the_frame_name_the_one_holding_the_printed_line_is_chosen(retriever):
    only_outer = TRACE.split('  File "/usr/lib/python3/site-packages/web/sessions.py", line 2')[0]
    assert len(parse_query(only_outer).frames) == 1
    hits = [hit.symbol for hit in retriever.search(only_outer, top=1)]
    assert hits == ["web/sessions.py::Session.send"]
