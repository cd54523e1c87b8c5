// A cart panel for the shop front. Uses the automatic JSX runtime, so React
// does not need to be imported by name.

import { Cart, CartLine } from "./cart";
import { formatMoney, formatQuantity } from "./format";

interface CartWidgetProps {
  cart: Cart;
  onRemove: (sku: string) => void;
  lowStock?: Set<string>;
}

function CartRow({ line, low, onRemove }: { line: CartLine; low: boolean; onRemove: (sku: string) => void }) {
  return (
    <li className={low ? "cart-row cart-row--low" : "cart-row"}>
      <span className="cart-row__name">{line.name}</span>
      <span className="cart-row__qty">{formatQuantity(line.quantity)}</span>
      <span className="cart-row__price">{formatMoney(line.unitPriceCents * line.quantity)}</span>
      {low && <em title="Few left in stock">low stock</em>}
      <button type="button" onClick={() => onRemove(line.sku)} aria-label={`Remove ${line.name}`}>
        ×
      </button>
    </li>
  );
}

export function CartWidget({ cart, onRemove, lowStock = new Set() }: CartWidgetProps) {
  const totals = cart.totals();
  if (cart.items.length === 0) {
    return <p className="cart cart--empty">Your cart is empty.</p>;
  }
  return (
    <section className="cart">
      <ul>
        {cart.items.map((line) => (
          <CartRow key={line.sku} line={line} low={lowStock.has(line.sku)} onRemove={onRemove} />
        ))}
      </ul>
      <dl className="cart__totals">
        <dt>Subtotal</dt>
        <dd>{formatMoney(totals.subtotalCents)}</dd>
        <dt>Tax</dt>
        <dd>{formatMoney(totals.taxCents)}</dd>
        <dt>Shipping</dt>
        <dd>{totals.shippingCents === 0 ? "free" : formatMoney(totals.shippingCents)}</dd>
        <dt>Total</dt>
        <dd>
          <strong>{formatMoney(totals.totalCents)}</strong>
        </dd>
      </dl>
    </section>
  );
}
