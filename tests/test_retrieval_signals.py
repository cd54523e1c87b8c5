"""Signals that carry over to repositories nobody tuned on (issue 17): a quoted message finds the code that
raises it, a code block's calls find their callees, and the right file brings its right function. Each test
runs the same query with the signal's weight at 0 to show the signal is what finds it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixture_graphs import indexed_project

from indexer.retrieval import RetrievalConfig, Retriever
from indexer.retrieval.query import parse_query

# A small invented project: an image toolkit whose files share most of their vocabulary, so plain word
# overlap cannot tell its functions apart.
FILES = {
    "pixie/__init__.py": "",
    "pixie/resize.py": '''
"""Resizing images: width and height checks, scaling by a factor."""


def scale_image(image, width, height):
    """Scale an image to a width and height."""
    check_size(width, height)
    return image.scaled(width, height)


def check_size(width, height):
    """Width and height of an image must be positive."""
    if width <= 0 or height <= 0:
        raise ValueError(f"target box {width}x{height} has no area, pick a bigger one")
    return width, height


def thumbnail_box(image, width, height):
    """The width and height of an image thumbnail."""
    return min(width, image.width), min(height, image.height)


def fit_inside(image, width, height):
    """Fit an image inside a width and height, keeping the aspect ratio."""
    ratio = min(width / image.width, height / image.height)
    return image.scaled(int(image.width * ratio), int(image.height * ratio))


def crop_image(image, width, height):
    """Crop an image to a width and height."""
    return image.cropped(0, 0, width, height)


def pad_image(image, width, height):
    """Pad an image to a width and height: the image width and height grow to the wanted width and height."""
    return image.padded(max(width, image.width), max(height, image.height))


def grow_image(image, width, height):
    """Grow an image when the wanted width and height grow past the image width and height."""
    return image.grown(width, height)


def stretch_image(image, width, height):
    """Stretch an image to a width and height, whatever the image width and height were."""
    return image.stretched(width, height)
''',
    "pixie/color.py": '''
"""Colour handling for images: width and height aware palettes."""


def palette_for(image, width, height):
    """The palette of an image of this width and height."""
    return image.palette(width * height)


def blend_colors(first, second, weight):
    """Blend two colours of an image."""
    return first * weight + second * (1 - weight)


def quantize(image, colours):
    """Reduce the colours of an image, whatever its width and height."""
    return image.quantized(colours)
''',
    "pixie/loader.py": '''
"""Loading an image from a file: reading its width and height from the header."""


def open_image(path):
    """Open an image file and decode its width and height (decode errors are raised)."""
    with open(path, "rb") as handle:
        return unpack_size(handle.read(64))


def decode_all(paths):
    """Decode every image file: decode each header; an image that does not decode is skipped."""
    sizes = []
    for path in paths:
        with open(path, "rb") as handle:
            sizes.append(unpack_size(handle.read(64)))
    return sizes


def unpack_size(data):
    """Width and height of an image from its first bytes."""
    return int.from_bytes(data[0:4], "big"), int.from_bytes(data[4:8], "big")


def decode(data):
    """The pixels of an image from its bytes."""
    return unpack_size(data), data[8:]


def sniff_format(data):
    """Which format an image file is in."""
    return "png" if data.startswith(b"\\x89PNG") else "unknown"
''',
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return indexed_project(tmp_path_factory.mktemp("pixie"), FILES)


def ranked_symbols(root: Path, query: str, **changes) -> list[str]:
    config = RetrievalConfig().with_changes(**changes)
    with Retriever(root, config, use_vectors=False) as retriever:
        return [hit.symbol.rpartition("::")[2] for hit in retriever.search(query, top=10) if hit.symbol]


def ranked_files(root: Path, query: str, **changes) -> list[str]:
    config = RetrievalConfig().with_changes(**changes)
    with Retriever(root, config, use_vectors=False) as retriever:
        return [hit.path for hit in retriever.search(query, top=5, kind="file")]


def best_hit_why(root: Path, query: str) -> str:
    with Retriever(root, use_vectors=False) as retriever:
        best = retriever.search(query, top=1)[0]
        return " ".join(f"{e.signal} {e.detail}" for e in best.why.evidence)


MESSAGE_REPORT = """Making a thumbnail fails

When I ask for the thumbnail box of an image with a width of zero I get

    ValueError: target box 0x300 has no area, pick a bigger one

I expected a smaller image instead."""


def test_a_quoted_error_message_finds_the_function_that_raises_it(project):
    found = ranked_symbols(project, MESSAGE_REPORT)
    assert found[0] == "check_size"
    why = best_hit_why(project, MESSAGE_REPORT)
    assert "literal" in why and "has no area" in why
    with Retriever(project, use_vectors=False) as retriever:
        assert "literal" in retriever.search(MESSAGE_REPORT, top=1)[0].why.signals
    # The words of the message are also the words of check_size's text, which its file's re-ranking reads.
    without = ranked_symbols(project, MESSAGE_REPORT, weight_literal=0.0, in_file_text=0.0)
    assert without[0] != "check_size"


CODE_BLOCK_REPORT = """Opening every image file: sizes are skipped, or errors raised, for each big image file

Reproduction:

```python
from pixie import loader
blob = load_bytes("big.png")
size = decode(blob)
```

The size printed is nonsense for images bigger than a few megabytes."""


def test_a_call_in_a_code_block_finds_its_callee(project):
    assert "decode" in [m.text for m in parse_query(CODE_BLOCK_REPORT).mentions if m.in_code]
    found = ranked_symbols(project, CODE_BLOCK_REPORT)
    assert found[0] == "decode"
    without = ranked_symbols(project, CODE_BLOCK_REPORT, weight_code_mention=0.0)
    assert without[0] != "decode"


def test_messages_are_read_from_error_lines_quotes_and_code_block_output():
    query = parse_query('It warns "palette is too small for this image" and then\n\n```\n$ pixie crop a.png\n'
                        'Error: crop box lies outside the image\n```\nKeyError: x')
    assert "palette is too small for this image" in query.literals
    assert "crop box lies outside the image" in query.literals
    assert all(len(literal) >= 8 for literal in query.literals)  # `KeyError: x` says too little


IN_FILE_REPORT = ("resizing: the thumbnail of an image has the wrong width and height"
                  " when the image width and height grow")


def test_the_right_function_of_a_high_ranked_file_moves_into_the_top_three(project):
    assert ranked_files(project, IN_FILE_REPORT)[0] == "pixie/resize.py"
    found = ranked_symbols(project, IN_FILE_REPORT)
    assert "thumbnail_box" in found[:3]
    without = ranked_symbols(project, IN_FILE_REPORT, weight_in_file=0.0)
    assert "thumbnail_box" not in without[:3]



def in_file_weight(root: Path, query: str, symbol: str) -> float:
    with Retriever(root, use_vectors=False) as retriever:
        node = next(n for n in retriever.rank(query).nodes if n.node.endswith(f"::{symbol}"))
        return sum(e.score for e in node.why.evidence if e.signal == "in-file")


def test_an_inflected_word_in_the_report_counts_inside_the_file_as_the_name_spells_it(project):
    """"thumbnails" in a report is the word of ``thumbnail_box``: names and questions meet by their stems."""
    singular = in_file_weight(project, IN_FILE_REPORT, "thumbnail_box")
    plural = in_file_weight(project, IN_FILE_REPORT.replace("the thumbnail of", "thumbnails of"), "thumbnail_box")
    absent = in_file_weight(project, IN_FILE_REPORT.replace("the thumbnail of", "the copy of"), "thumbnail_box")
    assert singular > absent
    assert plural == pytest.approx(singular, rel=0.05)


# A help renderer whose function names reuse "help" and "short" everywhere, as clap's do: the report's words
# "help" and "short" name half the file, so a function called just ``help`` says little about which one is meant.
HELP_FILES = {
    "helpdesk/__init__.py": "",
    "helpdesk/render.py": '''
"""Rendering the help screen of a command: usage lines, option lists and their columns."""


def help(command):
    """The whole help screen of a command."""
    return "\\n".join([help_usage(command), help_options(command)])


def help_usage(command):
    return "usage: " + command.name


def help_options(command):
    return "\\n".join(short(option) + "  " + option.text for option in command.options)


def help_width(command):
    return max(len(option.text) for option in command.options)


def help_heading(title):
    return title.upper() + ":"


def short(option):
    """The short form of an option, like -v."""
    return "-" + option.letter


def short_flag(option):
    return option.letter if option.is_flag else None


def short_name(option):
    return option.letter or option.name[0]


def align_short_args(options, width):
    """The column where the text of options that take values starts."""
    return width + max(len(option.value_name) for option in options if option.letter)


def wrap_help_text(text, width):
    return [text[i:i + width] for i in range(0, len(text), width)]
''',
    "helpdesk/cli.py": '''
from helpdesk.render import help


def print_help(command):
    print(help(command))


def help_command(command):
    return print_help(command)
''',
}
HELP_REPORT = "help shows short-only args misaligned"


@pytest.fixture(scope="module")
def help_project(tmp_path_factory) -> Path:
    return indexed_project(tmp_path_factory.mktemp("helpdesk"), HELP_FILES)


def in_file_weights(root: Path, query: str, **changes) -> dict[str, float]:
    config = RetrievalConfig().with_changes(**changes)
    with Retriever(root, config, use_vectors=False) as retriever:
        return {n.node.rpartition("::")[2]: sum(e.score for e in n.why.evidence if e.signal == "in-file")
                for n in retriever.rank(query).nodes}


def test_a_short_name_of_common_words_matches_less_than_a_name_of_rare_ones(help_project):
    """``help`` and ``short`` are each one word of the report, but half the file's names use them; of
    ``align_short_args`` the report holds "short" and the rare "args", so it is the function the file brings."""
    # The name's part alone: the text of the functions is what in_file_text weighs.
    weights = in_file_weights(help_project, HELP_REPORT, in_file_text=0.0)
    assert weights["align_short_args"] > max(weights["help"], weights["short"], weights["help_usage"])
    assert ranked_symbols(help_project, HELP_REPORT)[0] == "align_short_args"
    # Every word alike, as before: the one-word names match fully and win.
    alike = in_file_weights(help_project, HELP_REPORT, in_file_full_words=0.0, in_file_text=0.0)
    assert alike["help"] > alike["align_short_args"]
    assert ranked_symbols(help_project, HELP_REPORT, in_file_full_words=0.0)[0] == "help"


# A JavaScript server whose TypeScript declaration file repeats its names and documents them at more length.
DECLARATION_FILES = {
    "package.json": '{"name": "tinyserve", "main": "lib/request.js", "types": "types/request.d.ts"}\n',
    "lib/request.js": '''
function getHeader(request, name) {
  return request.headers[name];
}

function getQuery(request) {
  return new URLSearchParams(request.url.split("?")[1] || "");
}

module.exports = { getHeader, getQuery };
''',
    "types/request.d.ts": '''
/** The value of a request header, looked up by the header name; undefined when the request has no such header. */
export declare function getHeader(request: IncomingRequest, name: string): string | undefined;

/** The query of a request URL, as search parameters. */
export declare function getQuery(request: IncomingRequest): URLSearchParams;

/** A request as the server received it: its URL and its headers by header name. */
export interface IncomingRequest {
  url: string;
  headers: Record<string, string>;
}
''',
}


@pytest.fixture(scope="module")
def declaration_project(tmp_path_factory) -> Path:
    return indexed_project(tmp_path_factory.mktemp("tinyserve"), DECLARATION_FILES)


def test_a_declaration_file_weighs_less_than_the_code_it_describes_unless_the_question_is_about_types(
        declaration_project):
    behaviour = "Looking up a request header by a name in another case gives undefined"
    assert ranked_symbols(declaration_project, behaviour)[:2] == ["getHeader", "getQuery"]  # the code, not its types
    assert ranked_files(declaration_project, behaviour).index("types/request.d.ts") > 1
    types = "Wrong type for the request header lookup: it can be undefined"
    assert parse_query(types).about_types and not parse_query(behaviour).about_types
    assert parse_query("TS types of getHeader").about_types and parse_query("fix TS build").about_types
    assert not parse_query("getHeader crashes in request.ts on a missing header").about_types
    assert ranked_symbols(declaration_project, types)[:2] == ["getHeader", "IncomingRequest"]
    assert ranked_files(declaration_project, types)[:2] == ["lib/request.js", "types/request.d.ts"]
    # Named, a declaration is found whatever the question is about.
    assert ranked_symbols(declaration_project, "IncomingRequest headers")[0] == "IncomingRequest"


# A worker pool whose everyday methods are named by words too common to say anything (close, get, run, add).
POOL_FILES = {
    "workers/__init__.py": "",
    "workers/pool.py": '''
"""A pool of worker threads that run submitted jobs."""

import threading


class WorkerPool:
    """Runs jobs on a fixed number of worker threads."""

    def __init__(self, size):
        self.size = size
        self.threads = []
        self.jobs = []

    def add(self, job):
        self.jobs.append(job)

    def get(self):
        return self.jobs.pop(0) if self.jobs else None

    def run(self):
        while self.jobs:
            self.get()()

    def close(self):
        for thread in self.threads:
            thread.join()

    def restart_workers(self):
        """Stop every worker and start the pool again."""
        self.close()
        self.threads = [self._spawn_thread() for _ in range(self.size)]

    def _spawn_thread(self):
        thread = threading.Thread(target=self.run)
        thread.start()
        return thread
''',
    "workers/jobs.py": '''
"""Jobs the pool runs."""


def make_job(function, *args):
    return lambda: function(*args)
''',
}
POOL_REPORT = "WorkerPool leaks a spawned thread each time it restarts"


@pytest.fixture(scope="module")
def pool_project(tmp_path_factory) -> Path:
    return indexed_project(tmp_path_factory.mktemp("workers"), POOL_FILES)


def test_a_method_named_by_common_words_does_not_borrow_its_class_name(pool_project):
    """``close``, ``get``, ``run`` and ``add`` say nothing the report could match: they earn nothing inside the
    file, where they used to earn half of their class's name as a constructor does, and rank above the thread
    spawner the report describes."""
    weights = {name.rpartition(".")[2]: weight  # the name's part alone: no floor, no text likeness
               for name, weight in in_file_weights(pool_project, POOL_REPORT, in_file_prior=0.0,
                                                   in_file_text=0.0).items()}
    assert all(weights.get(name, 0) == 0 for name in ("close", "get", "run", "add"))
    assert weights["__init__"] > 0  # a constructor is still half its class
    assert weights["_spawn_thread"] > weights["__init__"] and weights["restart_workers"] > weights["__init__"]
    found = ranked_symbols(pool_project, POOL_REPORT)
    assert set(found[1:3]) == {"WorkerPool._spawn_thread", "WorkerPool.restart_workers"}


# A report that names its file and says what goes wrong there, in words none of the file's functions are named by:
# the file's look-alikes elsewhere (``edge_direction``, ``draw_directed_edges``) share the report's words.
PROPAGATION_FILES = {
    "netkit/__init__.py": "",
    "netkit/propagation.py": '''
"""Communities found by label propagation."""


def label_propagation(graph):
    """Communities of a graph: every node takes the label most of its neighbours hold."""
    labels = {node: node for node in graph.nodes}
    while not _settled(graph, labels):
        labels = {node: _most_frequent(graph, labels, node) for node in graph.nodes}
    return labels


def asyn_lpa(net, seed=None):
    """The same, one vertex at a time in random order."""
    tags = {vertex: vertex for vertex in net.vertices()}
    for source, target in net.pairs():
        tags[target] = tags[source]
    return tags


def _most_frequent(graph, labels, node):
    counts = {}
    for other in graph.around(node):
        counts[labels[other]] = counts.get(labels[other], 0) + 1
    return max(counts, key=counts.get)


def _settled(graph, labels):
    return all(labels[node] == _most_frequent(graph, labels, node) for node in graph.nodes)
''',
    "netkit/edges.py": '''
"""Edges of directed graphs."""


def edge_direction(graph, source, target):
    """The direction of the edge between two nodes of a directed graph."""
    return 1 if graph.has_edge(source, target) else -1

''',
    "netkit/drawing.py": '''
def draw_directed_edges(graph, canvas):
    """Arrows between the nodes a graph links."""
    for source, target in graph.pairs():
        canvas.arrow(source, target)
''',
    "netkit/convert.py": '''
def to_directed(graph):
    """A directed graph with both directions of every edge."""
    return graph.doubled()
''',
    "netkit/layout.py": '''
def community_layout(communities):
    """Positions that keep the nodes of communities together."""
    return {node: index for index, community in enumerate(communities) for node in community}
''',
}
PROPAGATION_REPORT = "Fix the direction of edges in propagation.py: communities are wrong for directed graphs"


@pytest.fixture(scope="module")
def propagation_project(tmp_path_factory) -> Path:
    return indexed_project(tmp_path_factory.mktemp("netkit"), PROPAGATION_FILES)


def test_each_function_of_a_small_file_the_report_points_to_ranks_above_look_alikes_elsewhere(propagation_project):
    """``asyn_lpa`` shares no word with the report; the file it is in is the one the report names, and it holds
    four functions, so each is likelier the one meant than a weak look-alike in another file."""
    assert ranked_files(propagation_project, PROPAGATION_REPORT)[0] == "netkit/propagation.py"
    found = ranked_symbols(propagation_project, PROPAGATION_REPORT)
    look_alikes = ("draw_directed_edges", "community_layout")  # in files the report does not name
    assert all(found.index("asyn_lpa") < found.index(name) for name in look_alikes), found
    without = ranked_symbols(propagation_project, PROPAGATION_REPORT, in_file_prior=0.0)
    assert all(without.index("asyn_lpa") > without.index(name) for name in look_alikes), without
    with Retriever(propagation_project, use_vectors=False) as retriever:  # and the reason is shown
        hits = retriever.search(PROPAGATION_REPORT, top=10)
        lifted = next(hit for hit in hits if (hit.symbol or "").endswith("asyn_lpa"))
        assert "in-file" in lifted.why.signals
    # A floor, not a bonus: what the evidence ranked first stays first, and files keep their order.
    assert found[0] == without[0]
    assert ranked_files(propagation_project, PROPAGATION_REPORT) == ranked_files(
        propagation_project, PROPAGATION_REPORT, in_file_prior=0.0)


def test_a_stack_trace_or_a_fix_runs_own_seeds_get_no_floor_for_the_rest_of_their_files(propagation_project):
    """The trace, or the failing frames `assist fix` passes as seeds, says which function ran; lifting its file's
    other functions would crowd it out of a pack."""
    traced = PROPAGATION_REPORT + """

Traceback (most recent call last):
  File "/home/me/netkit/netkit/propagation.py", line 8, in label_propagation
    labels = {node: _most_frequent(graph, labels, node) for node in graph.nodes}
KeyError: 3
"""
    with Retriever(propagation_project, use_vectors=False) as retriever:
        assert retriever.rank(traced).nodes[0].node == "netkit/propagation.py::label_propagation"
        assert all(node.prior == 0 for node in retriever.rank(traced).nodes)
        failing = {"netkit/propagation.py::label_propagation": (1.0, "failure: raised here")}
        assert all(node.prior == 0 for node in retriever.rank(PROPAGATION_REPORT, extra_seeds=failing).nodes)
        assert any(node.prior > 0 for node in retriever.rank(PROPAGATION_REPORT).nodes)


# A shop whose ledger settles chargebacks in a method named for something else, beside reports, disputes and
# refunds that share the report's words: only the method's text says it is the one meant.
SHOP_FILES = {
    "shop/__init__.py": "",
    "shop/ledger.py": '''
"""The shop's ledger: every order's money in and out."""


class Ledger:
    def __init__(self):
        self.entries = []

    def post(self, entry):
        """Add an entry to the ledger."""
        self.entries.append(entry)

    def balance(self):
        """What the ledger holds now."""
        return sum(entry.amount for entry in self.entries)

    def close_day(self, day):
        """Close a day of the ledger."""
        return [entry for entry in self.entries if entry.day == day]

    def export(self, path):
        """Write the ledger to a file."""
        with open(path, "w") as out:
            out.writelines(str(entry) for entry in self.entries)

    def settle(self, entry):
        """Bring an entry in line with what the bank paid."""
        if entry.chargeback and entry.kind == "refund":
            self.post(entry.inverse())
        return entry

    def audit(self):
        """Entries whose amounts do not add up."""
        return [entry for entry in self.entries if entry.amount != entry.expected]

    def rename(self, old, new):
        """Move entries from one account to another."""
        for entry in self.entries:
            if entry.account == old:
                entry.account = new
''',
    "shop/reports.py": '''
"""Reports over the ledger: balances by day and by account."""


def balance_report(ledger):
    """The ledger balance, and the balance of each account of the ledger."""
    return {"balance": ledger.balance(), "accounts": account_balances(ledger)}


def account_balances(ledger):
    """The balance of each account in the ledger."""
    balances = {}
    for entry in ledger.entries:
        balances[entry.account] = balances.get(entry.account, 0) + entry.amount
    return balances


def daily_balance(ledger, day):
    """The ledger balance at the end of a day."""
    return sum(entry.amount for entry in ledger.close_day(day))
''',
    "shop/disputes.py": '''
"""Disputes: a customer asks the bank for a chargeback and the bank pays it back."""


def open_chargeback(order, reason):
    """Open a chargeback dispute for an order: the chargeback waits for the bank."""
    return {"order": order, "reason": reason, "chargeback": "open"}


def chargeback_fee(chargeback):
    """The bank fee for a dispute."""
    return 15 if chargeback["reason"] == "fraud" else 25


def chargeback_report(chargebacks):
    """A report of every chargeback: open, won or lost, with each chargeback's fee."""
    return [(c["order"], c["chargeback"], chargeback_fee(c)) for c in chargebacks]
''',
    "shop/refunds.py": '''
"""Refunds: giving a customer's money back."""


def refund_order(order, ledger):
    """Refund an order: the refund is posted to the ledger."""
    refund = order.total
    ledger.post(refund)
    return refund


def refund_total(orders):
    """The total of every refund of these orders."""
    return sum(order.refund for order in orders)


def partial_refund(order, amount, ledger):
    """Refund part of an order; a refund above the order total is refused."""
    if amount > order.total:
        raise ValueError("refund above the order total")
    ledger.post(amount)
''',
}

CHARGEBACK_REPORT = "A refund that comes back as a chargeback is posted twice to the ledger, so the balance report is wrong"


@pytest.fixture(scope="module")
def shop_project(tmp_path_factory) -> Path:
    return indexed_project(tmp_path_factory.mktemp("shop"), SHOP_FILES)


def test_the_function_whose_text_is_its_files_most_like_the_report_rises_with_that_file(shop_project):
    """``Ledger.settle`` is the only code of ledger.py that speaks of chargebacks and refunds; across the whole
    project it is a middling BM25 hit behind the reports and disputes that repeat those words, but measured
    against its own file's functions it is the best, and its file ranks among the first."""
    assert "shop/ledger.py" in ranked_files(shop_project, CHARGEBACK_REPORT)[:3]
    found = ranked_symbols(shop_project, CHARGEBACK_REPORT)
    without = ranked_symbols(shop_project, CHARGEBACK_REPORT, in_file_text=0.0)
    assert found.index("Ledger.settle") < 5 <= without.index("Ledger.settle"), (found, without)
    weights = in_file_weights(shop_project, CHARGEBACK_REPORT)
    plain = in_file_weights(shop_project, CHARGEBACK_REPORT, in_file_text=0.0)
    # The methods whose text holds none of the report's words gain nothing.
    assert weights["Ledger.rename"] == pytest.approx(plain["Ledger.rename"])
    assert weights["Ledger.settle"] > plain["Ledger.settle"]


# A client and a server that share their words: both hold keep-alive connections and close them after requests.
# Only the title's "server:" says which side the report is about.
NETWORK_FILES = {
    "netlib/__init__.py": "",
    "netlib/client/__init__.py": "",
    "netlib/client/connection.py": '''
"""Connections the client opens: kept alive between requests, closed when idle."""


def close_idle_connections(pool):
    """Close the keep-alive connections that sat idle after a request."""
    for connection in pool.idle():
        connection.close()


def reuse_connection(pool, request):
    """A keep-alive connection is reused for the next request; closed connections are dropped."""
    return pool.alive_for(request) or pool.open(request)
''',
    "netlib/server/__init__.py": "",
    "netlib/server/connection.py": '''
"""Accepted sockets."""


def serve_connection(connection, handler):
    """Answer requests on one connection until the peer goes away."""
    while wants_more(connection, handler(connection.read())):
        pass


def wants_more(connection, response):
    """Whether another response may follow on this connection."""
    return response.headers.get("Connection") != "close"
''',
}
NETWORK_REPORT = "server: keep-alive connections are closed after one request"


@pytest.fixture(scope="module")
def network_project(tmp_path_factory) -> Path:
    return indexed_project(tmp_path_factory.mktemp("netlib"), NETWORK_FILES)


def test_the_part_of_the_code_a_title_names_before_its_colon_weighs_more(network_project):
    assert parse_query(NETWORK_REPORT).scopes == [("server",)]
    assert parse_query("fix(help, derive)!: wrap long lines").scopes == [("help",), ("derive",)]
    assert parse_query("net/http: Server panics on HEAD").scopes == [("net", "http")]
    assert parse_query("fix: closed connections").scopes == []  # a report word names no part of the code
    for message in ("error: could not compile `netlib`", "Error: connect ECONNREFUSED", "TypeError: bad operand"):
        assert parse_query(message).scopes == []  # a message's start, which may be a file's name (error.rs)
    assert ranked_files(network_project, NETWORK_REPORT)[0] == "netlib/server/connection.py"
    assert ranked_files(network_project, NETWORK_REPORT, weight_scope=0.0)[0] == "netlib/client/connection.py"
    assert "scope" in best_hit_why(network_project, NETWORK_REPORT)
    # A scope no file matches changes nothing.
    unmatched = NETWORK_REPORT.replace("server:", "gateway:")
    assert ranked_files(network_project, unmatched) == ranked_files(network_project, unmatched, weight_scope=0.0)
