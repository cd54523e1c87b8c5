"""inventory: products, stock, orders and reports for a small shop.

The most useful names are re-exported here::

    from inventory import Product, Warehouse, Order
"""

from .errors import InsufficientStock, InventoryError, ProductNotFound
from .models import Product, StockItem, Warehouse
from .orders import Order, OrderLine, OrderStatus
from .perishables import PerishableItem

__version__ = "0.3.0"

__all__ = [
    "InsufficientStock", "InventoryError", "Order", "OrderLine", "OrderStatus",
    "PerishableItem", "Product", "ProductNotFound", "StockItem", "Warehouse",
]
