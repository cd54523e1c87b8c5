"""Core domain objects: products, the stock held of them, and warehouses.

A :class:`Warehouse` owns one :class:`StockItem` per product SKU.  Stock is
tracked as two numbers: ``quantity`` (units physically on the shelf) and
``reserved`` (units promised to placed orders but not yet shipped).  Only
the difference, :attr:`StockItem.available`, can be promised to new orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterator

from .errors import InsufficientStock, InvalidQuantity, PricingError, ProductNotFound


@dataclass(frozen=True)
class Product:
    """Something we sell, identified by its SKU.

    ``tax_class`` selects a VAT rate in :mod:`inventory.pricing`
    (``"standard"``, ``"reduced"`` or ``"zero"``).
    """

    sku: str
    name: str
    unit_price: Decimal
    category: str = "general"
    tax_class: str = "standard"

    def __post_init__(self) -> None:
        if not self.sku or not self.sku.strip():
            raise ValueError("a product needs a non-empty SKU")
        if not isinstance(self.unit_price, Decimal):
            # Accept ints and strings for convenience, but never floats: they
            # would smuggle binary rounding errors into every total.
            if isinstance(self.unit_price, float):
                raise PricingError(f"price of {self.sku} must not be a float")
            object.__setattr__(self, "unit_price", Decimal(str(self.unit_price)))
        if self.unit_price < 0:
            raise PricingError(f"price of {self.sku} cannot be negative")

    def to_dict(self) -> dict:
        """Return a JSON-friendly representation (prices as strings)."""
        return {
            "sku": self.sku,
            "name": self.name,
            "unit_price": str(self.unit_price),
            "category": self.category,
            "tax_class": self.tax_class,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Product":
        """Build a product from the output of :meth:`to_dict`."""
        return cls(
            sku=data["sku"],
            name=data["name"],
            unit_price=Decimal(data["unit_price"]),
            category=data.get("category", "general"),
            tax_class=data.get("tax_class", "standard"),
        )


def require_positive(quantity: int) -> None:
    """Reject anything but a positive whole number of units."""
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise InvalidQuantity(quantity, "quantity must be a whole number")
    if quantity <= 0:
        raise InvalidQuantity(quantity)


@dataclass
class StockItem:
    """The stock a warehouse holds of a single product."""

    product: Product
    quantity: int = 0
    reserved: int = 0
    reorder_level: int = 5

    @property
    def sku(self) -> str:
        return self.product.sku

    @property
    def available(self) -> int:
        """Units that can still be promised to a new order."""
        return self.quantity - self.reserved

    @property
    def value(self) -> Decimal:
        """Book value of the units on the shelf, at list price."""
        return self.product.unit_price * self.quantity

    def needs_reorder(self) -> bool:
        """True when available stock has fallen to the reorder level."""
        return self.available <= self.reorder_level

    def receive(self, quantity: int) -> None:
        """Add a delivery of ``quantity`` units to the shelf."""
        require_positive(quantity)
        self.quantity += quantity

    def reserve(self, quantity: int) -> None:
        """Promise ``quantity`` units to an order."""
        require_positive(quantity)
        if quantity > self.available:
            raise InsufficientStock(self.sku, quantity, self.available)
        self.reserved += quantity

    def release(self, quantity: int) -> None:
        """Give back units reserved by an order that will not ship."""
        require_positive(quantity)
        if quantity > self.reserved:
            raise InvalidQuantity(quantity, f"only {self.reserved} reserved")
        self.reserved -= quantity

    def ship(self, quantity: int) -> None:
        """Remove reserved units from the shelf when an order leaves."""
        self.release(quantity)
        self.quantity -= quantity

    def to_dict(self) -> dict:
        return {
            "kind": "stock",
            "product": self.product.to_dict(),
            "quantity": self.quantity,
            "reserved": self.reserved,
            "reorder_level": self.reorder_level,
        }


@dataclass
class Warehouse:
    """A named collection of stock items, keyed by SKU."""

    name: str
    items: dict[str, StockItem] = field(default_factory=dict)

    def __contains__(self, sku: str) -> bool:
        return sku in self.items

    def __iter__(self) -> Iterator[StockItem]:
        return iter(sorted(self.items.values(), key=lambda item: item.sku))

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: StockItem) -> StockItem:
        """Start stocking a product; an existing SKU cannot be added twice."""
        if item.sku in self.items:
            raise ValueError(f"{item.sku} is already stocked in {self.name}")
        self.items[item.sku] = item
        return item

    def add_product(self, product: Product, quantity: int = 0, reorder_level: int = 5) -> StockItem:
        """Convenience wrapper around :meth:`add` for plain stock items."""
        return self.add(StockItem(product, quantity=quantity, reorder_level=reorder_level))

    def get(self, sku: str) -> StockItem:
        """Return the stock item for ``sku`` or raise :class:`ProductNotFound`."""
        try:
            return self.items[sku]
        except KeyError:
            raise ProductNotFound(sku) from None

    def receive(self, sku: str, quantity: int) -> StockItem:
        item = self.get(sku)
        item.receive(quantity)
        return item

    def reserve(self, sku: str, quantity: int) -> None:
        self.get(sku).reserve(quantity)

    def release(self, sku: str, quantity: int) -> None:
        self.get(sku).release(quantity)

    def ship(self, sku: str, quantity: int) -> None:
        self.get(sku).ship(quantity)

    def low_stock(self) -> list[StockItem]:
        """Items at or below their reorder level, emptiest first."""
        return sorted(
            (item for item in self if item.needs_reorder()),
            key=lambda item: (item.available, item.sku),
        )

    def total_value(self) -> Decimal:
        """Book value of everything on the shelves."""
        return sum((item.value for item in self.items.values()), Decimal("0"))
