"""Which repository file a dotted Python module name is, as ``import`` would find it.

Paths are repository-relative and posix.
"""

from __future__ import annotations

from collections.abc import Iterable

_TOP = "."  # the repository's top directory


def _dirname(path: str) -> str:
    head, _, _ = path.rpartition("/")
    return head or _TOP


def _join(directory: str, *parts: str) -> str:
    return "/".join(parts) if directory == _TOP else "/".join((directory, *parts))


class PythonModules:
    """Maps dotted module names to the repository's Python files.

    A module ``a.b`` is found under a source root: the repository root, ``src/``, or the parent of any
    top-level package (a directory with ``__init__.py`` whose parent has none).
    """

    def __init__(self, files: Iterable[str]):
        self.files = set(files)
        self.packages = {_dirname(f) for f in self.files if self.is_package(f)}
        roots = {_TOP, "src"}
        for package in self.packages:
            if package != _TOP:
                parent = _dirname(package)
                if parent not in self.packages:
                    roots.add(parent)
        self.by_name: dict[str, list[str]] = {}
        self.module_of: dict[str, str] = {}
        for f in self.files:
            parts = f.split("/")
            module_parts = parts[:-1]
            stem = parts[-1].rpartition(".")[0]
            if stem != "__init__":
                module_parts = [*module_parts, stem]
            # Walk roots from the deepest, so module_of gets the shortest name.
            for depth in range(len(parts) - 1, -1, -1):
                root = "/".join(parts[:depth]) or _TOP
                if root not in roots:
                    continue
                name = ".".join(module_parts[depth:])
                if not name:
                    continue
                self.by_name.setdefault(name, []).append(f)
                self.module_of.setdefault(f, name)

    def file_at(self, directory: str, parts: list[str]) -> str | None:
        """The module file for ``parts`` under ``directory``: a .py/.pyi module or a package's __init__."""
        base = _join(directory, *parts) if parts else directory
        candidates = (f"{base}.py", f"{base}/__init__.py", f"{base}.pyi", f"{base}/__init__.pyi")
        if not parts:
            candidates = candidates[1::2]
        if base == _TOP:
            candidates = ("__init__.py", "__init__.pyi")
        for candidate in candidates:
            if candidate in self.files:
                return candidate
        return None

    @staticmethod
    def is_package(path: str) -> bool:
        return path.rpartition("/")[2] in ("__init__.py", "__init__.pyi")

    def resolve(self, importer: str, module: str, level: int) -> str | None:
        """The file that ``import module`` (with ``level`` leading dots) in ``importer`` loads."""
        parts = module.split(".") if module else []
        if level:
            directory = _dirname(importer)
            for _ in range(level - 1):
                if directory == _TOP:
                    return None
                directory = _dirname(directory)
            return self.file_at(directory, parts)
        if not parts:
            return None
        # A script (outside any package) sees its own directory first on sys.path.
        directory = _dirname(importer)
        if directory not in self.packages:
            found = self.file_at(directory, parts)
            if found is not None:
                return found
        candidates = self.by_name.get(module)
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        return min(candidates, key=lambda c: (c.count("/"), -_common_prefix(c, importer), c.endswith(".pyi"), c))

    def submodule(self, package_file: str, name: str) -> str | None:
        if not self.is_package(package_file):
            return None
        return self.file_at(_dirname(package_file), name.split("."))


def _common_prefix(a: str, b: str) -> int:
    count = 0
    for x, y in zip(a.split("/"), b.split("/")):
        if x != y:
            break
        count += 1
    return count
