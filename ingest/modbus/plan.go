package modbus

import (
	"sort"

	"github.com/caretaker-iot/caretaker/devices"
)

// Protocol limits of one read request (Modbus application protocol 1.1b3,
// functions 1-4).
const (
	MaxRegisters = 125
	MaxBits      = 2000
)

// Request is one read of a contiguous block of one table, and the register
// entries it answers.
type Request struct {
	Table  string // holding, input, coil, discrete
	Start  uint16
	Count  uint16 // registers, or bits for coil and discrete
	Fields []Field
}

// Field is one register entry inside a request: its value starts Offset
// registers (or bits) after Request.Start.
type Field struct {
	Register devices.Register
	Offset   int
}

// PlanOptions tunes request planning.
type PlanOptions struct {
	// MaxGap is how many unused registers (or bits) a request may read to
	// join two entries into one request. 0 joins only adjacent or
	// overlapping entries; a negative value never joins.
	MaxGap int `yaml:"max_gap"`
	// MaxRegisters and MaxBits cap one request; 0 means the protocol
	// limit. Some devices accept less.
	MaxRegisters int `yaml:"max_registers"`
	MaxBits      int `yaml:"-"`
}

// Plan groups a register map into as few requests as the limits allow:
// per table, entries sorted by address are joined while the request stays
// within the limit and the hole between them is at most MaxGap. Entries are
// expected to have passed devices.Register.Validate and to end at address
// 65535 at the latest (Config.Validate): every request then covers each of
// its entries whole.
func Plan(regs []devices.Register, opt PlanOptions) []Request {
	if opt.MaxRegisters <= 0 || opt.MaxRegisters > MaxRegisters {
		opt.MaxRegisters = MaxRegisters
	}
	if opt.MaxBits <= 0 || opt.MaxBits > MaxBits {
		opt.MaxBits = MaxBits
	}
	byTable := map[string][]devices.Register{}
	for _, r := range regs {
		byTable[r.Table] = append(byTable[r.Table], r)
	}
	var out []Request
	for _, table := range []string{"holding", "input", "coil", "discrete"} {
		rs := byTable[table]
		if len(rs) == 0 {
			continue
		}
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].Address < rs[j].Address })
		limit := opt.MaxRegisters
		if table == "coil" || table == "discrete" {
			limit = opt.MaxBits
		}
		var cur *Request
		end := 0 // one past the last register or bit cur covers
		for _, r := range rs {
			w := width(r)
			start := int(r.Address)
			if cur != nil && opt.MaxGap >= 0 && start-end <= opt.MaxGap && max(end, start+w)-int(cur.Start) <= limit {
				end = max(end, start+w)
				cur.Count = uint16(end - int(cur.Start))
				cur.Fields = append(cur.Fields, Field{Register: r, Offset: start - int(cur.Start)})
				continue
			}
			out = append(out, Request{Table: table, Start: r.Address, Count: uint16(w),
				Fields: []Field{{Register: r, Offset: 0}}})
			cur = &out[len(out)-1]
			end = start + w
		}
	}
	return out
}

// width is how many registers (or bits) an entry takes.
func width(r devices.Register) int {
	if r.Table == "coil" || r.Table == "discrete" {
		return 1
	}
	if w := devices.RegisterWidth(r.Type); w > 0 {
		return w
	}
	return 1
}
