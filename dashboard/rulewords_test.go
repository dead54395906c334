package dashboard

import (
	"regexp"
	"strings"
	"testing"

	"github.com/caretaker-iot/caretaker/rules"
)

// jsTable returns the keys of a `const NAME = { key: ..., "key": ... };`
// table of a web/js file.
func jsTable(t *testing.T, file, name string) map[string]bool {
	t.Helper()
	b, err := webFiles.ReadFile("web/js/" + file)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	start := strings.Index(src, "const "+name+" = {")
	if start < 0 {
		t.Fatalf("%s: no table %s", file, name)
	}
	end := strings.Index(src[start:], "\n};")
	if end < 0 {
		t.Fatalf("%s: table %s not closed", file, name)
	}
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?:^|[{,\s])"?([A-Za-z0-9_.\-]+)"?:\s*[\["]`).FindAllStringSubmatch(src[start:start+end], -1) {
		keys[m[1]] = true
	}
	return keys
}

// Every shipped rule reads in Chinese on the rules page and in alarms:
// its name is in the dictionary (words.js RULES_ZH; a variant
// "id.flat" may use its base's), and its metrics, events and condition
// ops have words (METRICS, EVENTS, conditionWords' cases), so that no
// rule added to defaults.yaml shows English, or a raw op, to a zh-CN user.
func TestEveryDefaultRuleHasWords(t *testing.T) {
	pack, err := rules.DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	names := jsTable(t, "words.js", "RULES_ZH")
	metrics := jsTable(t, "words.js", "METRICS")
	events := jsTable(t, "words.js", "EVENTS")
	src, err := webFiles.ReadFile("web/js/words.js")
	if err != nil {
		t.Fatal(err)
	}
	cond := string(src)
	if i := strings.Index(cond, "export function conditionWords("); i >= 0 {
		cond = cond[i:]
		cond = cond[:strings.Index(cond, "\n}\n")]
	} else {
		t.Fatal("words.js: no conditionWords")
	}
	var check func(id, metric string, c rules.Condition)
	check = func(id, metric string, c rules.Condition) {
		if metric != "" && !metrics[metric] {
			t.Errorf("rule %s: metric %s has no words (words.js METRICS)", id, metric)
		}
		if c.Minus != "" && !metrics[c.Minus] {
			t.Errorf("rule %s: metric %s (minus) has no words (words.js METRICS)", id, c.Minus)
		}
		if c.Event != "" && !events[c.Event] {
			t.Errorf("rule %s: event %s has no words (words.js EVENTS)", id, c.Event)
		}
		if op := string(c.Op); op != "" && !strings.Contains(cond, `case "`+op+`"`) {
			t.Errorf("rule %s: condition op %q has no words (words.js conditionWords)", id, op)
		}
		for _, term := range c.Of {
			m := term.Metric
			if m == "" {
				m = metric
			}
			check(id, m, term.Condition)
		}
	}
	for _, r := range pack {
		base, _, _ := strings.Cut(r.ID, ".")
		if !names[r.ID] && !names[base] {
			t.Errorf("rule %s (%q) has no Chinese name in words.js RULES_ZH", r.ID, r.Name)
		}
		check(r.ID, r.Metric, r.Condition)
	}
}
