// Package fence carries a leader's fencing token from the loop that holds a
// partition's lease down to the store's transactions, so that a leader that
// lost its lease (a pause, a partitioned network) cannot write.
//
// A context carries at most one token. The store calls Check inside each
// write transaction it runs for a context with a token; work without a
// token (API requests, any instance) is never fenced.
//
// It must never decide leadership itself, nor hold a connection or clock:
// the lease lives in the cluster's lease table, which Check only reads.
package fence
