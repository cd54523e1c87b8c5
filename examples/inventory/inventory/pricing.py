"""Money arithmetic: rounding, discounts, tax and currency conversion.

All amounts are :class:`~decimal.Decimal` and are rounded to whole cents with
ROUND_HALF_UP, the rule customers expect on a receipt.  Rounding happens once
per order line, after discount and before tax, so a line's figures always
add up exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .errors import PricingError

CENT = Decimal("0.01")

#: VAT rates by product tax class.
TAX_RATES: dict[str, Decimal] = {
    "standard": Decimal("0.20"),
    "reduced": Decimal("0.05"),
    "zero": Decimal("0"),
}

#: Volume discounts: (minimum quantity, percent off), largest first.
BULK_TIERS: tuple[tuple[int, Decimal], ...] = (
    (100, Decimal("15")),
    (50, Decimal("10")),
    (10, Decimal("5")),
)


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Convert user input to Decimal, refusing floats and garbage."""
    if isinstance(value, float):
        raise PricingError("use Decimal or str for money, not float")
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise PricingError(f"not a number: {value!r}") from None


def round_money(amount: Decimal) -> Decimal:
    """Round to whole cents, halves away from zero."""
    return to_decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def apply_discount(amount: Decimal, percent: Decimal | int | str) -> Decimal:
    """Take ``percent`` off ``amount`` and round the result to cents."""
    percent = to_decimal(percent)
    if not Decimal("0") <= percent <= Decimal("100"):
        raise PricingError(f"discount must be between 0 and 100 percent, got {percent}")
    return round_money(amount * (Decimal("100") - percent) / Decimal("100"))


def bulk_discount_percent(quantity: int) -> Decimal:
    """Percent off granted for buying ``quantity`` units of one product."""
    for minimum, percent in BULK_TIERS:
        if quantity >= minimum:
            return percent
    return Decimal("0")


def tax_rate(tax_class: str) -> Decimal:
    try:
        return TAX_RATES[tax_class]
    except KeyError:
        raise PricingError(f"unknown tax class: {tax_class}") from None


def tax_for(amount: Decimal, tax_class: str) -> Decimal:
    """Tax due on a net ``amount``, rounded to cents."""
    return round_money(amount * tax_rate(tax_class))


def convert(amount: Decimal, rate: Decimal | str) -> Decimal:
    """Convert an amount with an exchange rate (target units per source unit)."""
    rate = to_decimal(rate)
    if rate <= 0:
        raise PricingError(f"exchange rate must be positive, got {rate}")
    return round_money(amount * rate)


@dataclass(frozen=True)
class LinePrice:
    """The price of one order line, broken down the way a receipt shows it."""

    gross: Decimal
    discount: Decimal
    net: Decimal
    tax: Decimal

    @property
    def total(self) -> Decimal:
        return self.net + self.tax


def price_line(unit_price: Decimal, quantity: int, tax_class: str = "standard",
               extra_discount: Decimal | int | str = 0) -> LinePrice:
    """Price ``quantity`` units: bulk discount plus any extra discount, then tax.

    The two discounts stack additively (5 % bulk + 10 % coupon = 15 % off),
    capped at 100 %.
    """
    gross = round_money(unit_price * quantity)
    percent = min(bulk_discount_percent(quantity) + to_decimal(extra_discount), Decimal("100"))
    net = apply_discount(gross, percent)
    return LinePrice(gross=gross, discount=gross - net, net=net, tax=tax_for(net, tax_class))
