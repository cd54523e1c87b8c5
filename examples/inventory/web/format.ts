// Display helpers shared by the cart and the widgets.
// Prices travel as integer cents so that adding them up never drifts.

export type CurrencyCode = "EUR" | "GBP" | "USD";

const SYMBOLS: Record<CurrencyCode, string> = {
  EUR: "€",
  GBP: "£",
  USD: "$",
};

export function formatMoney(cents: number, currency: CurrencyCode = "EUR"): string {
  const sign = cents < 0 ? "-" : "";
  const absolute = Math.abs(Math.round(cents));
  const whole = Math.floor(absolute / 100).toLocaleString("en-GB");
  const fraction = String(absolute % 100).padStart(2, "0");
  return `${sign}${SYMBOLS[currency]}${whole}.${fraction}`;
}

export function formatQuantity(quantity: number, unit = "pc"): string {
  return quantity === 1 ? `1 ${unit}` : `${quantity} ${unit}s`;
}

export function parsePriceToCents(text: string): number {
  const match = /^\s*(\d+)(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!match) {
    throw new Error(`not a price: ${text}`);
  }
  const fraction = (match[2] ?? "0").padEnd(2, "0");
  return Number(match[1]) * 100 + Number(fraction);
}
