// Package cluster elects one leader per partition among the caretaker
// instances that share one PostgreSQL database: the holder of a partition's
// lease runs that partition's leader work (the MQTT subscription, the Modbus
// pollers, the rules, the clocks, the pager); the others wait and take over
// when the lease runs out.
//
// The lease is a row of the cluster_leases table, renewed by its holder at a
// third of its length. Its expiry is reckoned by the database's clock
// (now()), so the instances' clocks need not agree. Every take-over raises
// the row's epoch: the epoch is the fencing token (package fence) that the
// leader's contexts carry and the store checks inside each write
// transaction, so a leader that lost its lease cannot write even when it
// does not know yet that it lost it.
//
// Why not a PostgreSQL advisory lock held on a connection: a leader that is
// paused (SIGSTOP, a VM frozen, a long GC or swap storm) keeps its TCP
// connection open, and with it the lock, for as long as the kernel keeps the
// socket, often for many minutes; nobody can take over, and when it wakes
// it still believes it leads. A lease row expires by the database's clock
// whatever the holder does, and the epoch lets the store refuse the
// writes of a holder that woke too late.
//
// The holder cancels its leader work at once when it fails to renew before
// the lease would expire by its own (monotonic) clock, or when a renewal
// finds the row under another epoch. Its own deadline starts when it sent
// the statement that took or renewed the lease, so it ends no later than
// the database's.
//
// It must never write anything but its lease rows, nor decide what the
// leader work is: that is handed in as a function.
package cluster
