package dashboard

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// A reporter's phone is read by those who call reporters back: the
// control room (operator), the manager, the admin, and the technician the
// ticket is assigned to (one tap on the card calls). A patrol, an
// engineer or another technician sees the ticket without it: the lists,
// a ticket, its reports and history notes, the /ws snapshot and events.
// Sites are limited as everything else is (scope.go).

// phoneHidden replaces a phone in a history note.
const phoneHidden = "•••"

// seesPhones tells whether p may read the reporters' phones of a ticket
// assigned to assignee.
func (p principal) seesPhones(assignee string) bool {
	switch p.Role {
	case RoleOperator, RoleManager, RoleAdmin:
		return true
	case RoleTechnician:
		return assignee != "" && assignee == p.Name
	}
	return false
}

// phonesFor is t as p may read it: without the reporters' phones unless p
// sees them (a copy; t is not changed).
func phonesFor(p principal, t ticketing.Ticket) ticketing.Ticket {
	if p.seesPhones(t.Assignee) {
		return t
	}
	var phones []string
	if t.Reporter.Phone != "" {
		phones = append(phones, t.Reporter.Phone)
		t.Reporter.Phone = ""
	}
	if t.Reporters != nil {
		t.Reporters = slices.Clone(t.Reporters)
		for i := range t.Reporters {
			if t.Reporters[i].Phone != "" {
				phones = append(phones, t.Reporters[i].Phone)
				t.Reporters[i].Phone = ""
			}
		}
	}
	if len(phones) > 0 && t.History != nil {
		t.History = slices.Clone(t.History)
		for i := range t.History {
			for _, ph := range phones {
				t.History[i].Note = strings.ReplaceAll(t.History[i].Note, ph, phoneHidden)
			}
		}
	}
	return t
}

// phonesForList is phonesFor of each ticket.
func phonesForList(p principal, list []ticketing.Ticket) []ticketing.Ticket {
	switch p.Role {
	case RoleOperator, RoleManager, RoleAdmin:
		return list
	}
	out := make([]ticketing.Ticket, len(list))
	for i, t := range list {
		out[i] = phonesFor(p, t)
	}
	return out
}

// eventPhones reads an event's data: whose ticket it is (its assignee,
// at the top or in "ticket") and, when it carries a phone (a "phone"
// anywhere in it), the data without them; hidden is nil when there is
// none to hide.
func eventPhones(raw json.RawMessage) (assignee string, hidden json.RawMessage) {
	if !strings.Contains(string(raw), `"phone"`) {
		return "", nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "", nil
	}
	if m, ok := v.(map[string]any); ok {
		if a, ok := m["assignee"].(string); ok {
			assignee = a
		} else if tk, ok := m["ticket"].(map[string]any); ok {
			assignee, _ = tk["assignee"].(string)
		}
	}
	if !dropPhones(v) {
		return assignee, nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		return assignee, nil
	}
	return assignee, out
}

// dropPhones blanks every non-empty "phone" string in v; it tells whether
// there was one.
func dropPhones(v any) bool {
	found := false
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "phone" && s != "" {
				x[k] = ""
				found = true
				continue
			}
			found = dropPhones(e) || found
		}
	case []any:
		for _, e := range x {
			found = dropPhones(e) || found
		}
	}
	return found
}

// seesPhones tells whether the client's viewer may read the phones of a
// ticket assigned to assignee.
func (c *client) seesPhones(assignee string) bool { return c.viewer.seesPhones(assignee) }
