package config

import (
	"errors"
	"testing"
)

func TestUnder(t *testing.T) {
	base := errors.New("bad")
	tests := []struct {
		name   string
		prefix string
		err    error
		want   string
	}{
		{"field", "mqtt", Errorf("qos", "3 is not 0, 1 or 2"), "mqtt.qos: 3 is not 0, 1 or 2"},
		{"index", "auth.tokens", Errorf("[1].name", "missing"), "auth.tokens[1].name: missing"},
		{"nested", "notify", Under("policies[0]", Errorf("steps[1].to[0]", "x")), "notify.policies[0].steps[1].to[0]: x"},
		{"plain error", "devices", base, "devices: bad"},
		{"empty path", "sla", &FieldError{Err: base}, "sla: bad"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Under(tc.prefix, tc.err)
			var fe *FieldError
			if !errors.As(err, &fe) || err.Error() != tc.want {
				t.Fatalf("Under = %v (%T), want %q", err, err, tc.want)
			}
		})
	}
	if Under("x", nil) != nil {
		t.Fatal("Under(nil) is not nil")
	}
	if !errors.Is(Under("a", &FieldError{Path: "b", Err: base}), base) {
		t.Fatal("Under loses the cause")
	}
}
