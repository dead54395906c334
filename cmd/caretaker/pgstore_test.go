package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestServeKeepsItsRecordsInPostgreSQL: with store.url set, caretaker
// serve keeps tickets and rule versions in PostgreSQL, not in store.path:
// a report filed in one life is there in the next, started with another
// data folder, and the SQLite file is never made.
func TestServeKeepsItsRecordsInPostgreSQL(t *testing.T) {
	broker := testserver.Mosquitto(t)
	dbURL := testserver.PostgresDB(t)
	config := func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-pg}
store: {url: "%s", path: "%s/caretaker.db", readings_path: "%[4]s/readings.db", photos_dir: "%[4]s/photos"}
auth:
  tokens:
    - {name: ops1, role: operator, token: %s}
    - {name: pat1, role: patrol, token: %s}
devices:
  - {id: gas-1, kind: gas, site: s1, building: B2}
`, httpAddr, broker.Addr, dbURL, dir, operatorToken, patrolToken)
	}
	first := newCaretakerDir(t, config)
	_, stop := runCaretaker(t, first.Config)
	waitReady(t, first.Base)
	resp := postJSON(t, first.Base+"/api/tickets", patrolToken,
		`{"source":"patrol","category":"civil","site":"s1","building":"B3","location":"stairwell","description":"cracked step on floor 2"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/tickets: %s", resp.Status)
	}
	stop()

	second := newCaretakerDir(t, config)
	runCaretaker(t, second.Config)
	waitReady(t, second.Base)
	var list struct {
		Tickets []struct {
			Description string `json:"description"`
		} `json:"tickets"`
	}
	getJSON(t, second.Base+"/api/tickets", operatorToken, &list)
	if len(list.Tickets) != 1 || !strings.Contains(list.Tickets[0].Description, "cracked step") {
		t.Fatalf("tickets in the second life: %+v", list.Tickets)
	}
	for _, dir := range []string{first.Dir, second.Dir} {
		if _, err := os.Stat(filepath.Join(dir, "caretaker.db")); !os.IsNotExist(err) {
			t.Errorf("store.path %s/caretaker.db was made (%v): records went to SQLite", dir, err)
		}
	}
	pg := testserver.SharedPostgreSQL(t)
	name := dbURL[strings.LastIndex(dbURL, "/")+1 : strings.Index(dbURL, "?")]
	if n, err := pg.Query(name, "SELECT count(*) FROM rule_versions"); err != nil || n == "0" {
		t.Fatalf("rule versions in PostgreSQL: %q, %v", n, err)
	}
}
