"""Exception hierarchy for the inventory package.

Every error raised on purpose by this package derives from
:class:`InventoryError`, so callers such as the command line can catch one
type and report a friendly message instead of a traceback.
"""


class InventoryError(Exception):
    """Base class for all inventory errors."""


class ProductNotFound(InventoryError):
    """Raised when a SKU is not stocked by a warehouse."""

    def __init__(self, sku: str):
        super().__init__(f"unknown product: {sku}")
        self.sku = sku


class InvalidQuantity(InventoryError):
    """Raised when a quantity is zero, negative or otherwise unusable."""

    def __init__(self, quantity: int, reason: str = "quantity must be positive"):
        super().__init__(f"{reason} (got {quantity})")
        self.quantity = quantity


class InsufficientStock(InventoryError):
    """Raised when a reservation asks for more units than are available."""

    def __init__(self, sku: str, requested: int, available: int):
        super().__init__(
            f"cannot reserve {requested} x {sku}: only {available} available"
        )
        self.sku = sku
        self.requested = requested
        self.available = available


class ExpiredStock(InsufficientStock):
    """Raised when the only units left of a perishable item are past their date."""

    def __init__(self, sku: str, requested: int):
        super().__init__(sku, requested, available=0)
        self.args = (f"cannot reserve {requested} x {sku}: stock has expired",)


class PricingError(InventoryError):
    """Raised for invalid prices, discounts, tax classes or exchange rates."""


class OrderStateError(InventoryError):
    """Raised when an order operation is not allowed in the order's current state."""


class StorageError(InventoryError):
    """Raised when a data file cannot be read, parsed or written."""
