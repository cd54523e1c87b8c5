module example.com/inventory/stockcheck

go 1.21
