"""Stock that expires: fresh food, medicines, anything with a best-before date.

A :class:`PerishableItem` behaves like a normal :class:`StockItem` until its
expiry date.  From then on it refuses new reservations, and in the days just
before it is marked down so it sells before it has to be thrown away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from .errors import ExpiredStock
from .models import Product, StockItem
from .pricing import apply_discount, round_money

#: How many days before expiry the markdown starts, and how deep it is.
MARKDOWN_WINDOW = timedelta(days=3)
MARKDOWN_PERCENT = Decimal("30")


@dataclass
class PerishableItem(StockItem):
    """A stock item with an expiry date."""

    expires_on: date = field(default_factory=date.today)

    def is_expired(self, today: date | None = None) -> bool:
        """True on and after the expiry date."""
        return (today or date.today()) >= self.expires_on

    def days_left(self, today: date | None = None) -> int:
        return (self.expires_on - (today or date.today())).days

    def reserve(self, quantity: int, today: date | None = None) -> None:
        """Reserve like any stock item, unless the stock has already expired."""
        if self.is_expired(today):
            raise ExpiredStock(self.sku, quantity)
        super().reserve(quantity)

    def current_price(self, today: date | None = None) -> Decimal:
        """List price, marked down during the last days before expiry."""
        if 0 <= self.days_left(today) <= MARKDOWN_WINDOW.days:
            return apply_discount(self.product.unit_price, MARKDOWN_PERCENT)
        return round_money(self.product.unit_price)

    def write_off(self, today: date | None = None) -> int:
        """Remove expired, unreserved units from the shelf; return how many."""
        if not self.is_expired(today):
            return 0
        wasted = self.available
        self.quantity -= wasted
        return wasted

    def to_dict(self) -> dict:
        data = super().to_dict()
        data["kind"] = "perishable"
        data["expires_on"] = self.expires_on.isoformat()
        return data


def stock_item_from_dict(data: dict) -> StockItem:
    """Rebuild a stock item (plain or perishable) from its ``to_dict`` form."""
    common = dict(
        product=Product.from_dict(data["product"]),
        quantity=data.get("quantity", 0),
        reserved=data.get("reserved", 0),
        reorder_level=data.get("reorder_level", 5),
    )
    if data.get("kind") == "perishable":
        return PerishableItem(expires_on=date.fromisoformat(data["expires_on"]), **common)
    return StockItem(**common)
