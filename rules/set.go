package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ApplySet returns r with changed values: set maps dotted keys, as in the
// configuration ("condition.value", "for", "clear.value", "clear_for",
// "severity"), to new values. A missing "clear" is created by a
// "clear.*" key. The result is validated; errors name the key.
func ApplySet(r Rule, set map[string]any) (Rule, error) {
	if len(set) == 0 {
		return r, nil
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return Rule{}, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return Rule{}, err
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "id" || k == "version" {
			return Rule{}, fieldErr(k, "cannot be changed by set")
		}
		parts := strings.Split(k, ".")
		m := doc
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				if m[p] != nil {
					return Rule{}, fieldErr(k, "%s is not an object", p)
				}
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = set[k]
	}
	raw, err = json.Marshal(doc)
	if err != nil {
		return Rule{}, err
	}
	var out Rule
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Rule{}, fieldErr("set", "unknown key %s", name)
		}
		return Rule{}, fieldErr("set", "%v", err)
	}
	if err := out.Validate(); err != nil {
		return Rule{}, err
	}
	return out, nil
}

// ParseSet reads command-line "key=value" pairs: a value that reads as a
// number or true/false is one, anything else ("5s", "major") a string.
func ParseSet(pairs []string) (map[string]any, error) {
	out := map[string]any{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("set: %q is not key=value", p)
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = f
		} else if b, err := strconv.ParseBool(v); err == nil {
			out[k] = b
		} else {
			out[k] = v
		}
	}
	return out, nil
}
