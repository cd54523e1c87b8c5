"""Read-only views over a warehouse and its orders, plus CSV export."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, TextIO

from .models import Warehouse
from .orders import Order, OrderStatus
from .perishables import PerishableItem

STOCK_COLUMNS = ("sku", "name", "category", "quantity", "reserved", "available", "unit_price", "value", "expires_on")


def stock_rows(warehouse: Warehouse) -> list[dict]:
    """One row per stock item, in SKU order, ready for a table or a CSV file."""
    rows = []
    for item in warehouse:
        rows.append({
            "sku": item.sku,
            "name": item.product.name,
            "category": item.product.category,
            "quantity": item.quantity,
            "reserved": item.reserved,
            "available": item.available,
            "unit_price": item.product.unit_price,
            "value": item.value,
            "expires_on": item.expires_on.isoformat() if isinstance(item, PerishableItem) else "",
        })
    return rows


def value_by_category(warehouse: Warehouse) -> dict[str, Decimal]:
    """Book value of the stock in each product category, largest first."""
    totals: dict[str, Decimal] = defaultdict(lambda: Decimal("0"))
    for item in warehouse:
        totals[item.product.category] += item.value
    return dict(sorted(totals.items(), key=lambda pair: (-pair[1], pair[0])))


@dataclass(frozen=True)
class SalesSummary:
    """What a set of orders adds up to.  Cancelled and draft orders earn nothing."""

    orders_by_status: dict[str, int]
    revenue: Decimal
    tax_collected: Decimal
    units_by_sku: dict[str, int]

    def top_products(self, limit: int = 3) -> list[tuple[str, int]]:
        return Counter(self.units_by_sku).most_common(limit)


def sales_summary(orders: Iterable[Order]) -> SalesSummary:
    by_status: Counter[str] = Counter()
    units: Counter[str] = Counter()
    revenue = Decimal("0")
    tax = Decimal("0")
    for order in orders:
        by_status[order.status.value] += 1
        if order.status not in (OrderStatus.PLACED, OrderStatus.SHIPPED):
            continue
        revenue += order.subtotal()
        tax += order.tax()
        for line in order.lines:
            units[line.product.sku] += line.quantity
    return SalesSummary(dict(by_status), revenue, tax, dict(units))


def write_csv(rows: Iterable[dict], out: TextIO, columns: Iterable[str] = STOCK_COLUMNS) -> int:
    """Write ``rows`` as CSV with a header; return the number of data rows."""
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def stock_csv(warehouse: Warehouse) -> str:
    """The stock report as CSV text."""
    buffer = io.StringIO()
    write_csv(stock_rows(warehouse), buffer)
    return buffer.getvalue()


def format_table(rows: list[dict], columns: Iterable[str]) -> str:
    """A plain-text table with columns padded to their widest cell."""
    columns = list(columns)
    cells = [[str(row.get(column, "")) for column in columns] for row in rows]
    widths = [max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in cells]
    return "\n".join(line.rstrip() for line in lines)
