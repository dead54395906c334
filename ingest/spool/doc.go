// Package spool is a bounded first-in first-out queue of batches on disk.
// The InfluxDB writer puts batches here while the database is down or
// refuses them with 5xx and replays them, oldest first, when it is back; a
// restart finds what is left and replays it too.
//
// One file per batch, written to a temporary name, synced and renamed, and
// the folder synced after the rename, so a crash or a power cut leaves
// either the whole batch or nothing. The spool never grows
// past its byte limit: Append refuses with ErrFull and the caller counts
// the loss. It must never drop a batch on its own.
package spool
