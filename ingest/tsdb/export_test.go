package tsdb

// WithFold sets when samples are folded into chunks (rows) and how many
// values a chunk holds at most, so that tests fold small amounts.
func WithFold(c Config, rows, chunkValues int) Config {
	c.foldRows, c.chunkValues = rows, chunkValues
	return c
}
