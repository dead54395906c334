package rules

import (
	"bytes"
	_ "embed"
	"fmt"

	"gopkg.in/yaml.v3"
)

//go:embed defaults.yaml
var defaultPack []byte

// DefaultPack returns the shipped rules for the four kinds of device. Their
// values and the reasons for them are documented in defaults.yaml.
func DefaultPack() ([]Rule, error) {
	rs, err := ParseRules(defaultPack)
	if err != nil {
		return nil, fmt.Errorf("default rule pack: %w", err)
	}
	return rs, nil
}

// ParseRules reads a YAML list of rules; unknown keys are an error.
func ParseRules(b []byte) ([]Rule, error) {
	var doc struct {
		Rules []Rule `yaml:"rules"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	for i, r := range doc.Rules {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("rules[%d] (%s): %w", i, r.ID, err)
		}
	}
	return doc.Rules, nil
}
