package ingest

import "fmt"

// Reasons a message, or one metric of it, is rejected. They label the
// caretaker_ingest_rejected_total counter, so they stay short and stable.
const (
	ReasonInvalidJSON     = "invalid_json"
	ReasonBadType         = "bad_type"
	ReasonBadTimestamp    = "bad_timestamp"
	ReasonFutureTimestamp = "future_timestamp"
	ReasonNoMetrics       = "no_metrics"
	ReasonMissingField    = "missing_field"
	ReasonUnknownTopic    = "unknown_topic"
	ReasonUnknownDevice   = "unknown_device"
	ReasonSiteMismatch    = "site_mismatch"
	ReasonUnknownMetric   = "unknown_metric"
	ReasonUnknownEvent    = "unknown_event"
	ReasonBadStatus       = "bad_status"
	ReasonOversized       = "oversized"
	ReasonImplausible     = "implausible"
	// ReasonReservedID: the topic names a device with a name the engine
	// keeps for a data source (PipelineConfig.Reserved).
	ReasonReservedID = "reserved_id"
)

// RejectError says why a message was refused. Reason is one of the Reason
// constants, for counting; Err says what exactly was wrong, for the log.
type RejectError struct {
	Reason string
	Err    error
}

func (e *RejectError) Error() string { return e.Reason + ": " + e.Err.Error() }

// Unwrap returns the detailed cause.
func (e *RejectError) Unwrap() error { return e.Err }

func reject(reason, format string, args ...any) *RejectError {
	return &RejectError{Reason: reason, Err: fmt.Errorf(format, args...)}
}
