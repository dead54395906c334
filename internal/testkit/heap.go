package testkit

import "runtime"

// LiveHeap is the heap in use after a collection, in bytes: what a
// structure holds, measured as the difference before and after it is
// built (memory benchmarks report it per device).
func LiveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
