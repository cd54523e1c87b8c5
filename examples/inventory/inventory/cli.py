"""Command line interface: ``python -m inventory <command> ...``.

Data lives in a directory (``--data``, default ``./inventory-data``) holding
``warehouse.json`` and ``orders.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from decimal import Decimal

from . import reports
from .errors import InventoryError
from .models import Product, StockItem
from .orders import Order, OrderRepository
from .perishables import PerishableItem
from .pricing import price_line
from .storage import WarehouseRepository

DEFAULT_DATA_DIR = os.environ.get("INVENTORY_DATA", "inventory-data")


class Workspace:
    """The warehouse and order files a command works on."""

    def __init__(self, data_dir: str):
        self.warehouses = WarehouseRepository(os.path.join(data_dir, "warehouse.json"))
        self.orders = OrderRepository(os.path.join(data_dir, "orders.json"))
        self.warehouse = self.warehouses.load()

    def save(self) -> None:
        self.warehouses.save(self.warehouse)


def cmd_add(ws: Workspace, args: argparse.Namespace) -> str:
    product = Product(args.sku, args.name, Decimal(args.price), args.category, args.tax_class)
    if args.expires:
        item = PerishableItem(product, reorder_level=args.reorder_level,
                              expires_on=date.fromisoformat(args.expires))
    else:
        item = StockItem(product, reorder_level=args.reorder_level)
    ws.warehouse.add(item)
    if args.qty:
        item.receive(args.qty)
    ws.save()
    return f"added {product.sku} ({product.name}), {item.quantity} in stock"


def cmd_receive(ws: Workspace, args: argparse.Namespace) -> str:
    item = ws.warehouse.receive(args.sku, args.qty)
    ws.save()
    return f"{item.sku}: {item.quantity} in stock, {item.available} available"


def cmd_list(ws: Workspace, args: argparse.Namespace) -> str:
    rows = reports.stock_rows(ws.warehouse)
    if not rows:
        return "no products yet"
    return reports.format_table(rows, ("sku", "name", "quantity", "reserved", "available", "unit_price"))


def cmd_quote(ws: Workspace, args: argparse.Namespace) -> str:
    product = ws.warehouse.get(args.sku).product
    line = price_line(product.unit_price, args.qty, product.tax_class, args.discount)
    return (f"{args.qty} x {product.name}: gross {line.gross}, discount {line.discount}, "
            f"net {line.net}, tax {line.tax}, total {line.total}")


def parse_line_spec(spec: str) -> tuple[str, int]:
    """Parse ``SKU:QTY`` (quantity defaults to 1)."""
    sku, _, qty = spec.partition(":")
    try:
        return sku, int(qty or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad line {spec!r}, expected SKU:QTY") from None


def cmd_order(ws: Workspace, args: argparse.Namespace) -> str:
    order = Order(ws.orders.next_id(), args.customer, member=args.member)
    for sku, qty in args.lines:
        order.add_line(ws.warehouse.get(sku).product, qty)
    order.place(ws.warehouse)
    ws.save()
    ws.orders.save(order)
    return f"placed {order.order_id} for {order.customer}: total {order.total()}"


def cmd_ship(ws: Workspace, args: argparse.Namespace) -> str:
    order = ws.orders.get(args.order_id)
    if args.action == "ship":
        order.ship(ws.warehouse)
    else:
        order.cancel(ws.warehouse)
    ws.save()
    ws.orders.save(order)
    return f"{order.order_id} is now {order.status.value}"


def cmd_report(ws: Workspace, args: argparse.Namespace) -> str:
    if args.csv:
        with open(args.csv, "w", encoding="utf-8", newline="") as out:
            count = reports.write_csv(reports.stock_rows(ws.warehouse), out)
        return f"wrote {count} rows to {args.csv}"
    summary = reports.sales_summary(ws.orders.all())
    lines = [f"stock value: {ws.warehouse.total_value()}"]
    lines += [f"  {category}: {value}" for category, value in reports.value_by_category(ws.warehouse).items()]
    lines.append(f"revenue: {summary.revenue} (+ {summary.tax_collected} tax)")
    lines += [f"  {sku}: {units} units" for sku, units in summary.top_products()]
    low = ws.warehouse.low_stock()
    if low:
        lines.append("reorder: " + ", ".join(f"{item.sku} ({item.available})" for item in low))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inventory", description="A small stock and order keeper.")
    parser.add_argument("--data", default=DEFAULT_DATA_DIR, help="data directory (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)

    add = sub.add_parser("add", help="start stocking a product")
    add.add_argument("sku")
    add.add_argument("name")
    add.add_argument("price")
    add.add_argument("--qty", type=int, default=0)
    add.add_argument("--category", default="general")
    add.add_argument("--tax-class", default="standard", choices=["standard", "reduced", "zero"])
    add.add_argument("--reorder-level", type=int, default=5)
    add.add_argument("--expires", metavar="YYYY-MM-DD", help="makes the product perishable")
    add.set_defaults(handler=cmd_add)

    receive = sub.add_parser("receive", help="book a delivery")
    receive.add_argument("sku")
    receive.add_argument("qty", type=int)
    receive.set_defaults(handler=cmd_receive)

    sub.add_parser("list", help="show stock levels").set_defaults(handler=cmd_list)

    quote = sub.add_parser("quote", help="price a quantity without ordering")
    quote.add_argument("sku")
    quote.add_argument("qty", type=int)
    quote.add_argument("--discount", default="0", help="extra percent off")
    quote.set_defaults(handler=cmd_quote)

    order = sub.add_parser("order", help="place an order")
    order.add_argument("customer")
    order.add_argument("lines", nargs="+", type=parse_line_spec, metavar="SKU:QTY")
    order.add_argument("--member", action="store_true", help="customer gets member shipping")
    order.set_defaults(handler=cmd_order)

    for action in ("ship", "cancel"):
        cmd = sub.add_parser(action, help=f"{action} a placed order")
        cmd.add_argument("order_id")
        cmd.set_defaults(handler=cmd_ship, action=action)

    report = sub.add_parser("report", help="stock value, sales and reorder list")
    report.add_argument("--csv", metavar="PATH", help="write the stock table as CSV instead")
    report.set_defaults(handler=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(args.handler(Workspace(args.data), args))
    except (InventoryError, ValueError) as exc:
        print(f"inventory: error: {exc}", file=sys.stderr)
        return 1
    return 0
