//go:build benchpprof

package main

import (
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

// Built with -tags benchpprof (only the benchmark does: go test ./bench
// -args -profile FILE), caretaker serves net/http/pprof on the loopback
// address in BENCH_PPROF_LISTEN so the benchmark can take a CPU profile of
// the running service. Release builds never contain it.
func init() {
	if addr := os.Getenv("BENCH_PPROF_LISTEN"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
