package ticketing

import (
	"regexp"
	"strings"
)

// Words that make a report an emergency (L1) or a question (L3). English
// words match whole words, case-insensitively; Chinese ones anywhere.
var (
	emergencyWords = regexp.MustCompile(`(?i)\b(gas (smell|leak)s?|smell(s|ing)? (of )?gas|water (is )?pouring|burst|flood(ed|ing)?|` +
		`trapped|entrapment|stuck in (the )?(lift|elevator)|short[- ]circuit|power (cut|outage|failure)|blackout|fire|smoke|smoking|sparks?)\b`)
	emergencyZH = []string{"燃气", "煤气", "漏气", "漏水", "爆管", "水管爆", "困人", "被困", "停电", "短路", "火", "冒烟"}

	questionWords = regexp.MustCompile(`(?i)\b(consult(ing|ation)?|warranty|renovation|question|enquiry|inquiry)\b`)
	questionZH    = []string{"咨询", "保修", "装修"}
)

// DeriveLevel gives the level of a report that came without one: words of
// an emergency in the description (gas smell, water pouring, entrapment,
// short circuit, power cut, fire or smoke, in English or Chinese) make it
// L1; so does the category gas or fire; a question (consulting, warranty,
// renovation) is L3; anything else L2.
func DeriveLevel(category, description string) int {
	switch {
	case emergencyWords.MatchString(description) || containsAny(description, emergencyZH):
		return 1
	case category == "gas" || category == "fire":
		return 1
	case questionWords.MatchString(description) || containsAny(description, questionZH):
		return 3
	}
	return 2
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
