"""Customer orders and their life cycle.

An order starts as a DRAFT that can be edited freely.  Placing it reserves
stock in a warehouse for every line, all or nothing; shipping turns those
reservations into stock leaving the shelf; cancelling gives them back.

    DRAFT --place--> PLACED --ship--> SHIPPED
      \\                \\
       +----cancel------+--> CANCELLED
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from . import pricing
from . import storage as store
from .errors import InventoryError, OrderStateError
from .models import Product, Warehouse, require_positive
from .pricing import apply_discount as discount

SHIPPING_FEE = Decimal("4.95")
FREE_SHIPPING_FROM = Decimal("50.00")
MEMBER_SHIPPING_DISCOUNT = Decimal("50")


class OrderStatus(str, Enum):
    DRAFT = "draft"
    PLACED = "placed"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


@dataclass
class OrderLine:
    """A quantity of one product, with an optional line-level discount."""

    product: Product
    quantity: int
    extra_discount: Decimal = Decimal("0")

    def price(self) -> pricing.LinePrice:
        return pricing.price_line(
            self.product.unit_price, self.quantity, self.product.tax_class, self.extra_discount
        )

    def to_dict(self) -> dict:
        return {
            "product": self.product.to_dict(),
            "quantity": self.quantity,
            "extra_discount": str(self.extra_discount),
        }


@dataclass
class Order:
    """A customer's order: lines, status and the money they add up to."""

    order_id: str
    customer: str
    member: bool = False
    lines: list[OrderLine] = field(default_factory=list)
    status: OrderStatus = OrderStatus.DRAFT

    def _require_status(self, *allowed: OrderStatus) -> None:
        if self.status not in allowed:
            names = " or ".join(status.value for status in allowed)
            raise OrderStateError(f"order {self.order_id} is {self.status.value}, must be {names}")

    def add_line(self, product: Product, quantity: int, extra_discount: Decimal | str = "0") -> OrderLine:
        """Add units of a product; adding the same SKU again merges the lines."""
        self._require_status(OrderStatus.DRAFT)
        require_positive(quantity)
        for line in self.lines:
            if line.product.sku == product.sku:
                line.quantity += quantity
                return line
        line = OrderLine(product, quantity, pricing.to_decimal(extra_discount))
        self.lines.append(line)
        return line

    def remove_line(self, sku: str) -> None:
        self._require_status(OrderStatus.DRAFT)
        self.lines = [line for line in self.lines if line.product.sku != sku]

    def subtotal(self) -> Decimal:
        """Sum of line prices after discounts, before tax."""
        return sum((line.price().net for line in self.lines), Decimal("0"))

    def tax(self) -> Decimal:
        return sum((line.price().tax for line in self.lines), Decimal("0"))

    def shipping(self) -> Decimal:
        """Flat fee, free for large orders, half price for members."""
        if not self.lines or self.subtotal() >= FREE_SHIPPING_FROM:
            return Decimal("0.00")
        if self.member:
            return discount(SHIPPING_FEE, MEMBER_SHIPPING_DISCOUNT)
        return SHIPPING_FEE

    def total(self) -> Decimal:
        return self.subtotal() + self.tax() + self.shipping()

    def place(self, warehouse: Warehouse) -> None:
        """Reserve stock for every line, or for none of them if one fails."""
        self._require_status(OrderStatus.DRAFT)
        if not self.lines:
            raise OrderStateError(f"order {self.order_id} has no lines")
        reserved: list[OrderLine] = []
        try:
            for line in self.lines:
                warehouse.reserve(line.product.sku, line.quantity)
                reserved.append(line)
        except InventoryError:
            for line in reserved:
                warehouse.release(line.product.sku, line.quantity)
            raise
        self.status = OrderStatus.PLACED

    def ship(self, warehouse: Warehouse) -> None:
        self._require_status(OrderStatus.PLACED)
        for line in self.lines:
            warehouse.ship(line.product.sku, line.quantity)
        self.status = OrderStatus.SHIPPED

    def cancel(self, warehouse: Warehouse | None = None) -> None:
        """Cancel a draft or placed order, releasing any reserved stock."""
        self._require_status(OrderStatus.DRAFT, OrderStatus.PLACED)
        if self.status is OrderStatus.PLACED:
            if warehouse is None:
                raise OrderStateError("a placed order needs its warehouse to be cancelled")
            for line in self.lines:
                warehouse.release(line.product.sku, line.quantity)
        self.status = OrderStatus.CANCELLED

    def to_dict(self) -> dict:
        return {
            "order_id": self.order_id,
            "customer": self.customer,
            "member": self.member,
            "status": self.status.value,
            "lines": [line.to_dict() for line in self.lines],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Order":
        lines = [
            OrderLine(Product.from_dict(raw["product"]), raw["quantity"], Decimal(raw.get("extra_discount", "0")))
            for raw in data.get("lines", [])
        ]
        return cls(
            order_id=data["order_id"],
            customer=data["customer"],
            member=data.get("member", False),
            lines=lines,
            status=OrderStatus(data.get("status", "draft")),
        )


class OrderRepository(store.BaseRepository):
    """All orders, kept in one JSON file and addressed by order id."""

    def __init__(self, path, prefix: str = "ORD"):
        super().__init__(path)
        self.prefix = prefix

    def empty_document(self) -> dict:
        return {"version": store.FORMAT_VERSION, "orders": []}

    def all(self) -> list[Order]:
        return [Order.from_dict(raw) for raw in self.read().get("orders", [])]

    def get(self, order_id: str) -> Order:
        for order in self.all():
            if order.order_id == order_id:
                return order
        raise InventoryError(f"unknown order: {order_id}")

    def save(self, order: Order) -> None:
        """Insert or replace one order, keeping the others untouched."""
        orders = [existing for existing in self.all() if existing.order_id != order.order_id]
        orders.append(order)
        orders.sort(key=lambda existing: existing.order_id)
        self.write({"orders": [existing.to_dict() for existing in orders]})

    def next_id(self) -> str:
        numbers = [int(order.order_id.rsplit("-", 1)[-1]) for order in self.all()
                   if order.order_id.startswith(self.prefix + "-")]
        return f"{self.prefix}-{max(numbers, default=0) + 1:05d}"
