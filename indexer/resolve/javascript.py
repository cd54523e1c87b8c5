"""Names in JavaScript/TypeScript through the names their imports bind, before the name-based guesses.

``import { encode as encodeUrl } from './utils'`` binds ``encodeUrl`` to utils' ``encode``;
``import * as utils``, ``const utils = require('./utils')`` and a default import bind a module: ``utils.f``
is that file's ``f``, or a method of what it exports under the bound name (``const res =
require('./response'); res.location()`` is response.js's ``res.location``), and a default import names the
file's definition of that name. Everything else (``this`` in classes and object literals, variables' methods,
names the imports do not bind) is ``GenericResolver``'s.

Edges through a binding say ``import``. Which file a bare specifier (``@shop/money``, ``@/utils/sum``) is
comes from the repository's package.json and tsconfig.json files (``manifest_imports.py``); a relative one
from the path rules (``import_paths.py``).
"""

from __future__ import annotations

from ..model import FileExtract
from .generic import GenericResolver


class JavaScriptResolver:
    def __init__(self, generic: GenericResolver):
        self.generic = generic
        self.symbols = generic.symbols
        # file -> bound name -> (the files it comes from, the name there, or None for the module itself)
        self._bound: dict[str, dict[str, tuple[list[str], str | None]]] = {}

    def is_builtin(self, callee: str) -> bool:
        return False

    def imports(self, path: str, extract: FileExtract) -> list[tuple[str | None, str]]:
        links: list[tuple[str | None, str]] = []
        bound = self._bound[path] = {}
        for imp in extract.imports:
            targets = self.generic.linked_targets(extract.language, path, imp, links)
            if not targets:
                continue
            if imp.alias:  # import * as ns, import x = require(), const x = require()
                bound.setdefault(imp.alias, (targets, None))
            for name, alias in imp.names:
                if name == "default":  # import Router from './router': the file's own Router
                    bound.setdefault(alias, (targets, None))
                elif name != "*":
                    bound.setdefault(alias or name, (targets, name))
        return links

    def resolve(self, path: str, caller: str, text: str, for_class: bool) -> tuple[str, str] | None:
        head, _, rest = text.partition(".")
        binding = self._bound.get(path, {}).get(head)
        if binding is not None and "(" not in text:
            files, name = binding
            for file in files:
                for dotted in self._meanings(head, name, rest):
                    qname = f"{file}::{dotted}"
                    if qname in self.symbols:
                        return qname, "import"
        return self.generic.resolve(path, caller, text, for_class)

    @staticmethod
    def _meanings(head: str, name: str | None, rest: str) -> list[str]:
        """What ``head.rest`` can be called in the file ``head`` is bound to."""
        if name is not None:  # a named import: that name there
            return [f"{name}.{rest}" if rest else name]
        if not rest:  # a default import or a module called as a function: its definition of that name
            return [head]
        return [rest, f"{head}.{rest}"]  # a module's function, or a method of what it exports as head
