import json
from datetime import date
from decimal import Decimal

import pytest

from inventory import Order, PerishableItem, Product
from inventory.cli import main
from inventory.errors import StorageError
from inventory.orders import OrderRepository
from inventory.reports import sales_summary, stock_csv, value_by_category
from inventory.storage import WarehouseRepository


def test_warehouse_round_trips_through_json(tmp_path, warehouse):
    warehouse.add(PerishableItem(Product("MLK-1", "Milk", "1.20"), quantity=3, expires_on=date(2030, 1, 2)))
    warehouse.reserve("COF-1", 2)
    repo = WarehouseRepository(tmp_path / "warehouse.json")
    repo.save(warehouse)

    loaded = repo.load()
    assert [item.sku for item in loaded] == ["COF-1", "MLK-1", "MUG-1"]
    assert loaded.get("COF-1").reserved == 2
    assert isinstance(loaded.get("MLK-1"), PerishableItem)
    assert loaded.get("MLK-1").expires_on == date(2030, 1, 2)
    assert loaded.total_value() == warehouse.total_value()


def test_save_leaves_no_temporary_files(tmp_path, warehouse):
    WarehouseRepository(tmp_path / "warehouse.json").save(warehouse)
    assert [p.name for p in tmp_path.iterdir()] == ["warehouse.json"]


def test_corrupt_file_raises_storage_error(tmp_path):
    path = tmp_path / "warehouse.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(StorageError):
        WarehouseRepository(path).load()


def test_order_repository_assigns_ids_and_replaces_orders(tmp_path, warehouse, coffee):
    repo = OrderRepository(tmp_path / "orders.json")
    first = Order(repo.next_id(), "ada")
    first.add_line(coffee, 1)
    repo.save(first)
    assert repo.next_id() == "ORD-00002"

    first.place(warehouse)
    repo.save(first)
    assert [order.status.value for order in repo.all()] == ["placed"]
    assert json.loads((tmp_path / "orders.json").read_text())["version"] == 1


def test_reports_value_by_category_and_sales(warehouse, coffee, mug):
    assert value_by_category(warehouse) == {"grocery": Decimal("370.00"), "kitchen": Decimal("63.92")}
    placed = Order("ORD-1", "ada")
    placed.add_line(mug, 3)
    placed.place(warehouse)
    draft = Order("ORD-2", "bob")
    draft.add_line(coffee, 9)
    summary = sales_summary([placed, draft])
    assert summary.orders_by_status == {"placed": 1, "draft": 1}
    assert summary.revenue == Decimal("23.97")
    assert summary.top_products() == [("MUG-1", 3)]


def test_stock_csv_has_header_and_one_row_per_item(warehouse):
    lines = stock_csv(warehouse).splitlines()
    assert lines[0].startswith("sku,name,category")
    assert lines[1].startswith("COF-1,Coffee beans 1kg,grocery,20,0,20,18.50")
    assert len(lines) == 3


def test_cli_add_order_and_report(tmp_path, capsys):
    data = str(tmp_path)
    assert main(["--data", data, "add", "TEA-1", "Green tea", "6.00", "--qty", "12"]) == 0
    assert main(["--data", data, "order", "ada", "TEA-1:10"]) == 0
    assert "placed ORD-00001" in capsys.readouterr().out
    assert main(["--data", data, "order", "bob", "TEA-1:5"]) == 1
    assert "only 2 available" in capsys.readouterr().err
    assert main(["--data", data, "ship", "ORD-00001"]) == 0
    assert main(["--data", data, "report"]) == 0
    report = capsys.readouterr().out
    assert "stock value: 12.00" in report
    assert "TEA-1: 10 units" in report
