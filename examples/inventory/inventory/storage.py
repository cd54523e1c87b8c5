"""JSON file persistence.

Each repository owns one JSON file.  Writes go to a temporary file in the
same directory which then replaces the target with :func:`os.replace`, so a
crash mid-write leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .errors import StorageError
from .models import Warehouse
from .perishables import stock_item_from_dict

FORMAT_VERSION = 1


class BaseRepository:
    """Reads and atomically writes one JSON document on disk.

    Subclasses turn the document into domain objects; this class only knows
    about files, versions and encoding.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    def empty_document(self) -> dict:
        """The document a repository starts from when its file is missing."""
        return {"version": FORMAT_VERSION}

    def read(self) -> dict:
        """Load the document, or an empty one if the file does not exist yet."""
        if not self.exists():
            return self.empty_document()
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StorageError(f"cannot read {self.path}: {exc}") from exc
        if not isinstance(document, dict):
            raise StorageError(f"{self.path} does not hold a JSON object")
        version = document.get("version")
        if version != FORMAT_VERSION:
            raise StorageError(f"{self.path} has format version {version}, expected {FORMAT_VERSION}")
        return document

    def write(self, document: dict) -> None:
        """Replace the file with ``document`` in one atomic step."""
        document = {**document, "version": FORMAT_VERSION}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                json.dump(document, tmp, indent=2, sort_keys=True)
                tmp.write("\n")
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            # Never leave stray temporary files next to the user's data.
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise


class WarehouseRepository(BaseRepository):
    """Stores a single :class:`Warehouse` and all of its stock items."""

    def empty_document(self) -> dict:
        return {"version": FORMAT_VERSION, "name": "main", "items": []}

    def load(self) -> Warehouse:
        document = self.read()
        warehouse = Warehouse(name=document.get("name", "main"))
        for raw in document.get("items", []):
            try:
                warehouse.add(stock_item_from_dict(raw))
            except (KeyError, ValueError, TypeError) as exc:
                raise StorageError(f"bad stock entry in {self.path}: {raw!r}") from exc
        return warehouse

    def save(self, warehouse: Warehouse) -> None:
        self.write({"name": warehouse.name, "items": [item.to_dict() for item in warehouse]})
