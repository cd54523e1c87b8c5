from decimal import Decimal

import pytest

from inventory import InsufficientStock, Order, OrderStatus
from inventory.errors import OrderStateError


def test_order_totals_include_tax_and_shipping(coffee, mug):
    order = Order("ORD-00001", "ada")
    order.add_line(coffee, 1)
    order.add_line(mug, 2)
    # 18.50 at 5 % tax plus 15.98 at 20 % tax, below the free shipping threshold.
    assert order.subtotal() == Decimal("34.48")
    assert order.tax() == Decimal("0.93") + Decimal("3.20")
    assert order.shipping() == Decimal("4.95")
    assert order.total() == Decimal("43.56")


def test_members_pay_half_shipping_and_big_orders_ship_free(coffee):
    order = Order("ORD-00002", "bob", member=True)
    order.add_line(coffee, 1)
    assert order.shipping() == Decimal("2.48")
    order.add_line(coffee, 2)
    assert order.shipping() == Decimal("0.00")



def test_place_reserves_all_lines(warehouse, coffee, mug):
    order = Order("ORD-00004", "dee")
    order.add_line(coffee, 4)
    order.add_line(mug, 2)
    order.place(warehouse)
    assert order.status is OrderStatus.PLACED
    assert warehouse.get("COF-1").reserved == 4
    assert warehouse.get("MUG-1").reserved == 2


def test_failed_place_rolls_back_earlier_reservations(warehouse, coffee, mug):
    order = Order("ORD-00005", "eve")
    order.add_line(coffee, 4)
    order.add_line(mug, 99)
    with pytest.raises(InsufficientStock):
        order.place(warehouse)
    assert order.status is OrderStatus.DRAFT
    assert warehouse.get("COF-1").reserved == 0


def test_cancel_releases_and_ship_consumes_stock(warehouse, coffee):
    cancelled = Order("ORD-00006", "fay")
    cancelled.add_line(coffee, 5)
    cancelled.place(warehouse)
    cancelled.cancel(warehouse)
    assert warehouse.get("COF-1").available == 20

    shipped = Order("ORD-00007", "gus")
    shipped.add_line(coffee, 5)
    shipped.place(warehouse)
    shipped.ship(warehouse)
    assert warehouse.get("COF-1").quantity == 15
    with pytest.raises(OrderStateError):
        shipped.cancel(warehouse)


def test_placed_order_cannot_be_edited(warehouse, coffee, mug):
    order = Order("ORD-00008", "hal")
    order.add_line(coffee, 1)
    order.place(warehouse)
    with pytest.raises(OrderStateError):
        order.add_line(mug, 1)
