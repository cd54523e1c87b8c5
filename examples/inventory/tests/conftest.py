from decimal import Decimal

import pytest

from inventory import Product, Warehouse


@pytest.fixture
def coffee() -> Product:
    return Product("COF-1", "Coffee beans 1kg", Decimal("18.50"), category="grocery", tax_class="reduced")


@pytest.fixture
def mug() -> Product:
    return Product("MUG-1", "Enamel mug", Decimal("7.99"), category="kitchen")


@pytest.fixture
def warehouse(coffee: Product, mug: Product) -> Warehouse:
    shop = Warehouse("shop")
    shop.add_product(coffee, quantity=20)
    shop.add_product(mug, quantity=8, reorder_level=10)
    return shop
