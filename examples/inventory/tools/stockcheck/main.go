// Command stockcheck scans an inventory warehouse.json and exits non-zero
// when something needs reordering or has expired. Meant for cron jobs.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	path := flag.String("data", "inventory-data/warehouse.json", "warehouse file written by the inventory CLI")
	flag.Parse()

	warehouse, err := LoadWarehouse(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stockcheck:", err)
		os.Exit(2)
	}
	problems := warehouse.Problems(time.Now())
	for _, problem := range problems {
		fmt.Println(problem)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Printf("%s: %d products, all fine\n", warehouse.Name, len(warehouse.Items))
}
