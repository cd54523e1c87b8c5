package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"
)

// Product mirrors the "product" object written by inventory/storage.py.
type Product struct {
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	UnitPrice string `json:"unit_price"`
	Category  string `json:"category"`
}

// StockItem is one entry of the warehouse file's "items" list.
type StockItem struct {
	Kind         string  `json:"kind"`
	Product      Product `json:"product"`
	Quantity     int     `json:"quantity"`
	Reserved     int     `json:"reserved"`
	ReorderLevel int     `json:"reorder_level"`
	ExpiresOn    string  `json:"expires_on,omitempty"`
}

// Warehouse is the whole warehouse.json document.
type Warehouse struct {
	Name  string      `json:"name"`
	Items []StockItem `json:"items"`
}

// Available is what can still be promised to new orders.
func (s StockItem) Available() int {
	return s.Quantity - s.Reserved
}

// NeedsReorder matches StockItem.needs_reorder in the Python package.
func (s StockItem) NeedsReorder() bool {
	return s.Available() <= s.ReorderLevel
}

// Expired reports whether a perishable item is past its date on the given day.
func (s StockItem) Expired(today time.Time) bool {
	if s.Kind != "perishable" || s.ExpiresOn == "" {
		return false
	}
	expires, err := time.Parse("2006-01-02", s.ExpiresOn)
	if err != nil {
		return false
	}
	return !today.Before(expires)
}

// LoadWarehouse reads and decodes a warehouse file.
func LoadWarehouse(path string) (*Warehouse, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var w Warehouse
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &w, nil
}

// Problems lists items that need attention, emptiest first.
func (w *Warehouse) Problems(today time.Time) []string {
	items := append([]StockItem(nil), w.Items...)
	sort.Slice(items, func(i, j int) bool { return items[i].Available() < items[j].Available() })
	var problems []string
	for _, item := range items {
		switch {
		case item.Expired(today):
			problems = append(problems, fmt.Sprintf("%s expired on %s", item.Product.SKU, item.ExpiresOn))
		case item.NeedsReorder():
			problems = append(problems, fmt.Sprintf("%s low: %d available", item.Product.SKU, item.Available()))
		}
	}
	return problems
}
