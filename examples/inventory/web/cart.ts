// A shopping cart in the browser. Mirrors inventory/orders.py: lines of
// products, bulk discounts, tax per line and a flat shipping fee.

import { CurrencyCode, formatMoney, formatQuantity } from "./format";

export interface CartLine {
  sku: string;
  name: string;
  unitPriceCents: number;
  quantity: number;
  taxRate: number;
}

export interface CartTotals {
  subtotalCents: number;
  taxCents: number;
  shippingCents: number;
  totalCents: number;
}

const SHIPPING_FEE_CENTS = 495;
const FREE_SHIPPING_FROM_CENTS = 5000;

export class Cart {
  private lines = new Map<string, CartLine>();

  constructor(private readonly currency: CurrencyCode = "EUR") {}

  add(line: CartLine): void {
    if (line.quantity <= 0) {
      throw new Error(`quantity must be positive for ${line.sku}`);
    }
    const existing = this.lines.get(line.sku);
    if (existing) {
      existing.quantity += line.quantity;
    } else {
      this.lines.set(line.sku, { ...line });
    }
  }

  remove(sku: string): boolean {
    return this.lines.delete(sku);
  }

  get items(): CartLine[] {
    return [...this.lines.values()].sort((a, b) => a.sku.localeCompare(b.sku));
  }

  bulkDiscountPercent(quantity: number): number {
    if (quantity >= 100) return 15;
    if (quantity >= 50) return 10;
    if (quantity >= 10) return 5;
    return 0;
  }

  lineNetCents(line: CartLine): number {
    const gross = line.unitPriceCents * line.quantity;
    return Math.round((gross * (100 - this.bulkDiscountPercent(line.quantity))) / 100);
  }

  totals(): CartTotals {
    let subtotalCents = 0;
    let taxCents = 0;
    for (const line of this.items) {
      const net = this.lineNetCents(line);
      subtotalCents += net;
      taxCents += Math.round(net * line.taxRate);
    }
    const shippingCents =
      subtotalCents === 0 || subtotalCents >= FREE_SHIPPING_FROM_CENTS ? 0 : SHIPPING_FEE_CENTS;
    return { subtotalCents, taxCents, shippingCents, totalCents: subtotalCents + taxCents + shippingCents };
  }

  summary(): string {
    const rows = this.items.map(
      (line) => `${formatQuantity(line.quantity)} ${line.name}: ${formatMoney(this.lineNetCents(line), this.currency)}`,
    );
    rows.push(`Total: ${formatMoney(this.totals().totalCents, this.currency)}`);
    return rows.join("\n");
  }
}
