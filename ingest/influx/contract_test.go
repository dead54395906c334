package influx_test

import (
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/influx"
)

// The pipeline settles acknowledgements through these.
var (
	_ ingest.Writer        = (*influx.Store)(nil)
	_ ingest.DurableWriter = (*influx.Store)(nil)
	_ ingest.QualityWriter = (*influx.Store)(nil)
)
