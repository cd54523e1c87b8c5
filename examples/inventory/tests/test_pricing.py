from decimal import Decimal

import pytest

from inventory.errors import PricingError
from inventory.pricing import apply_discount, bulk_discount_percent, convert, price_line, round_money


def test_round_money_rounds_half_up():
    assert round_money(Decimal("2.345")) == Decimal("2.35")
    assert round_money(Decimal("2.344")) == Decimal("2.34")


def test_apply_discount_rounds_to_cents():
    assert apply_discount(Decimal("9.99"), 15) == Decimal("8.49")


@pytest.mark.parametrize("percent", [-1, 101, "abc"])
def test_apply_discount_rejects_bad_percentages(percent):
    with pytest.raises(PricingError):
        apply_discount(Decimal("10"), percent)


@pytest.mark.parametrize("quantity,percent", [(1, 0), (10, 5), (49, 5), (50, 10), (250, 15)])
def test_bulk_discount_tiers(quantity, percent):
    assert bulk_discount_percent(quantity) == Decimal(percent)


def test_price_line_stacks_bulk_and_extra_discount_then_taxes():
    line = price_line(Decimal("10.00"), 10, "standard", extra_discount=10)
    assert line.gross == Decimal("100.00")
    assert line.net == Decimal("85.00")
    assert line.discount == Decimal("15.00")
    assert line.tax == Decimal("17.00")
    assert line.total == Decimal("102.00")



def test_convert_uses_exchange_rate_and_rejects_zero():
    assert convert(Decimal("10.00"), "1.0875") == Decimal("10.88")
    with pytest.raises(PricingError):
        convert(Decimal("10.00"), "0")
