package dashboard

import (
	"net/http/httptest"
	"testing"
)

// The ack page speaks the person's language, else the browser's first
// one it knows, else English.
func TestAckLang(t *testing.T) {
	for _, tc := range []struct{ person, accept, want string }{
		{"zh-CN", "en-US,en;q=0.9", "zh-CN"},
		{"en", "zh-CN,zh;q=0.9", "en"},
		{"", "zh-TW,zh;q=0.9", "zh-CN"},
		{"", "fr-FR,en;q=0.5,zh;q=0.4", "en"},
		{"", "", "en"},
		{"pigeon", "zh", "zh-CN"},
	} {
		r := httptest.NewRequest("GET", "/ack/x", nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if got := ackLang(tc.person, r); got != tc.want {
			t.Errorf("ackLang(%q, %q) = %q, want %q", tc.person, tc.accept, got, tc.want)
		}
	}
}
