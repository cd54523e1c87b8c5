from datetime import date, timedelta
from decimal import Decimal

import pytest

from inventory import PerishableItem, Product, ProductNotFound
from inventory.errors import ExpiredStock, InsufficientStock, InvalidQuantity, PricingError


def test_product_rejects_float_prices():
    with pytest.raises(PricingError):
        Product("X-1", "Float thing", 1.10)



def test_reserve_reduces_available_but_not_quantity(warehouse):
    warehouse.reserve("COF-1", 5)
    item = warehouse.get("COF-1")
    assert (item.quantity, item.reserved, item.available) == (20, 5, 15)


def test_cannot_reserve_more_than_available(warehouse):
    warehouse.reserve("MUG-1", 6)
    with pytest.raises(InsufficientStock) as info:
        warehouse.reserve("MUG-1", 3)
    assert info.value.available == 2


def test_ship_removes_reserved_units_from_shelf(warehouse):
    warehouse.reserve("MUG-1", 3)
    warehouse.ship("MUG-1", 3)
    item = warehouse.get("MUG-1")
    assert (item.quantity, item.reserved) == (5, 0)


@pytest.mark.parametrize("quantity", [0, -2, True])
def test_receive_rejects_nonsense_quantities(warehouse, quantity):
    with pytest.raises(InvalidQuantity):
        warehouse.receive("COF-1", quantity)


def test_unknown_sku_raises_product_not_found(warehouse):
    with pytest.raises(ProductNotFound):
        warehouse.get("NOPE")


def test_low_stock_lists_items_at_reorder_level_emptiest_first(warehouse, coffee):
    warehouse.get("COF-1").reorder_level = 25
    assert [item.sku for item in warehouse.low_stock()] == ["MUG-1", "COF-1"]



def test_expired_perishable_refuses_reservations():
    milk = PerishableItem(Product("MLK-1", "Milk", "1.20"), quantity=10,
                          expires_on=date(2024, 5, 1))
    with pytest.raises(ExpiredStock):
        milk.reserve(1, today=date(2024, 5, 1))
    milk.reserve(4, today=date(2024, 4, 30))
    assert milk.available == 6


def test_perishable_is_marked_down_near_expiry_and_written_off_after():
    today = date(2024, 5, 1)
    bread = PerishableItem(Product("BRD-1", "Sourdough", "4.00"), quantity=6,
                           expires_on=today + timedelta(days=2))
    assert bread.current_price(today - timedelta(days=5)) == Decimal("4.00")
    assert bread.current_price(today) == Decimal("2.80")
    assert bread.write_off(today) == 0
    bread.reserve(2, today=today)
    assert bread.write_off(today + timedelta(days=2)) == 4
    assert bread.quantity == 2
