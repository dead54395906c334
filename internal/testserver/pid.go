package testserver

// PID is the operating-system process id of the running server, 0 when it
// is stopped. Benchmarks read its CPU time and memory from /proc.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
