package tsdb_test

import (
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
)

// The pipeline settles acknowledgements through these.
var (
	_ ingest.Writer        = (*tsdb.Store)(nil)
	_ ingest.DurableWriter = (*tsdb.Store)(nil)
)
