// Stock board for the back office: polls the stock export and highlights
// products that need reordering. Plain JavaScript, no build step.

const POLL_INTERVAL_MS = 30_000;

function parseCsv(text) {
  const [header, ...rows] = text.trim().split("\n");
  const columns = header.split(",");
  return rows.map((row) => {
    const cells = row.split(",");
    return Object.fromEntries(columns.map((column, i) => [column, cells[i] ?? ""]));
  });
}

class StockBoard {
  constructor(root, { url = "/stock.csv", reorderLevel = 5 } = {}) {
    this.root = root;
    this.url = url;
    this.reorderLevel = reorderLevel;
    this.timer = null;
  }

  async refresh() {
    const response = await fetch(this.url, { cache: "no-store" });
    if (!response.ok) {
      throw new Error(`stock export returned ${response.status}`);
    }
    const items = parseCsv(await response.text());
    this.render(items);
    return items;
  }

  needsReorder(item) {
    return Number(item.available) <= this.reorderLevel;
  }

  render(items) {
    this.root.replaceChildren(
      ...items.map((item) => {
        const row = document.createElement("tr");
        row.classList.toggle("reorder", this.needsReorder(item));
        for (const key of ["sku", "name", "available", "expires_on"]) {
          const cell = document.createElement("td");
          cell.textContent = item[key];
          row.append(cell);
        }
        return row;
      }),
    );
  }

  start() {
    const tick = () => this.refresh().catch((error) => console.error(error));
    tick();
    this.timer = setInterval(tick, POLL_INTERVAL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}

if (typeof document !== "undefined") {
  const root = document.querySelector("#stock-board tbody");
  if (root) {
    new StockBoard(root).start();
  }
}

if (typeof module !== "undefined") {
  module.exports = { StockBoard, parseCsv };
}
