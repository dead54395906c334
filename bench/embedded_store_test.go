package bench

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// benchEmbeddedStore: the same load through the embedded broker into the
// embedded store (no InfluxDB, as the demo and a small site run it), until
// the store's SQLite file holds every reading. The publisher's last PUBACK
// is timed too: with acknowledgements that wait for the store, it is when
// the last reading was committed.
func benchEmbeddedStore(t *testing.T, env *benchEnv) {
	sz := env.sz
	part := "2 embedded store"
	progress("2. end-to-end ingest, embedded broker and embedded store: %d readings until all are in readings.db", sz.Readings)
	ct := startCaretaker(t, caretakerOptions{ClientID: "caretaker-bench", Devices: gasDevices("bench-gas-", 0, sz.Devices)})
	defer ct.Stop()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(ct.dir, "readings.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func() int {
		var n int
		// Fresh rows and folded chunks, in one statement: one snapshot.
		if err := db.QueryRow(`SELECT (SELECT COUNT(*) FROM samples JOIN series ON series.id = samples.series WHERE metric = 'lel_pct')
			+ (SELECT COALESCE(SUM(n), 0) FROM chunks JOIN series ON series.id = chunks.series WHERE metric = 'lel_pct')`).Scan(&n); err != nil {
			t.Logf("count: %v", err)
			return 0
		}
		return n
	}
	cpu := startCPU(ct.PID())
	pub := startPublisher(t, ingestLoad(sz, "tcp://"+ct.MQTT, "bench-pub"))
	res := pub.Wait(t, 10*time.Minute)
	got, end, complete := waitStored(sz.Readings, count)
	used := cpu.used()
	_, peak, _ := procMem(ct.PID())
	if !complete {
		t.Errorf("%s: %d of %d readings in the store", part, got, sz.Readings)
	}
	rate := float64(sz.Readings) / end.Sub(res.Start).Seconds()
	acked := float64(res.Acked) / res.End.Sub(res.Start).Seconds()
	env.tb.add(row{Part: part, Figure: "readings/s, publish to stored", Value: fmt.Sprintf("%.0f", rate),
		Ratio: fmt.Sprintf("%.2f of ceiling", rate/env.ceiling)})
	env.tb.add(row{Part: part, Figure: "readings/s, publish to last PUBACK", Value: fmt.Sprintf("%.0f", acked)})
	env.tb.add(row{Part: part, Figure: "completeness", Value: fmt.Sprintf("%.2f%%", 100*float64(got)/float64(sz.Readings)),
		Target: "100%", Verdict: verdict(got >= sz.Readings)})
	env.tb.add(row{Part: part, Figure: "system CPU per reading (= Caretaker)", Value: usPer(used[0], sz.Readings)})
	env.tb.add(row{Part: part, Figure: "Caretaker peak RSS", Value: mib(peak)})
}
