package devices

import (
	"strings"
	"testing"
)

// TestRegisterWritable: only a coil or a holding register may be declared
// writable; an input register or a discrete input is read-only.
func TestRegisterWritable(t *testing.T) {
	for _, tc := range []struct {
		reg  Register
		want string
	}{
		{Register{Metric: "open", Table: "coil", Type: "bool", Writable: true}, ""},
		{Register{Metric: "running", Table: "holding", Type: "uint16", Writable: true}, ""},
		{Register{Metric: "open", Table: "discrete", Type: "bool", Writable: true}, "writable: discrete is read-only"},
		{Register{Metric: "open", Table: "input", Type: "uint16", Writable: true}, "writable: input is read-only"},
	} {
		err := tc.reg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s %s writable: %v, want %q", tc.reg.Table, tc.reg.Type, err, tc.want)
		}
	}
}
