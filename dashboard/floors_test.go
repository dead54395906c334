package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"testing"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

func TestFloorGrid(t *testing.T) {
	devs := []devices.Device{
		{ID: "gas-3", Kind: devices.KindGas, Site: "s1", Building: "B2", Floor: "3"},
		{ID: "leak-b1", Kind: devices.KindWaterLeak, Site: "s1", Building: "B2", Floor: "B1"},
		{ID: "pm-1", Kind: devices.KindPower, Site: "s1", Building: "B10", Floor: "1"},
		{ID: "pm-12", Kind: devices.KindPower, Site: "s1", Building: "B10", Floor: "12"},
		{ID: "el-x", Kind: devices.KindElevator, Site: "s2", Building: "C1"},
		{ID: "nowhere", Kind: devices.KindGas, Site: "s1"}, // no building: on no floor
	}
	online := map[string]DeviceStatus{"gas-3": {Online: true}, "leak-b1": {Online: true}, "pm-1": {Online: true}, "el-x": {Online: true}}
	alarm := func(id, dev string, level int, state rules.AlarmState) ticketing.StoredAlarm {
		return ticketing.StoredAlarm{Alarm: rules.Alarm{ID: id, Device: dev, Site: "s1", Building: "B2", Level: level, State: state}}
	}
	type cellWant struct {
		alarms  map[string]int
		tickets int
		offline int
		state   string
	}
	for _, c := range []struct {
		name    string
		in      floorInput
		cells   map[string]cellWant // "site/building/floor"
		devices map[string]string   // device: state
	}{
		{
			name:    "all quiet",
			in:      floorInput{devices: devs, status: online},
			cells:   map[string]cellWant{"s1/B2/3": {state: floorOK}, "s1/B10/12": {offline: 1, state: floorOffline}},
			devices: map[string]string{"gas-3": floorOK, "pm-12": floorOffline, "el-x": floorOK},
		},
		{
			name: "an L1 alarm and its ticket on floor 3, an L2 beside an L3 in B1",
			in: floorInput{devices: devs, status: online, alarms: []ticketing.StoredAlarm{
				alarm("a1", "gas-3", 1, rules.Raised), alarm("a2", "leak-b1", 3, rules.Raised), alarm("a3", "leak-b1", 2, rules.Updated),
			}, tickets: []ticketing.Ticket{{ID: 7, Level: 1, DeviceID: "gas-3", Site: "s1", Building: "B2"}}},
			cells: map[string]cellWant{
				"s1/B2/3":  {alarms: map[string]int{"1": 1}, tickets: 1, state: floorL1},
				"s1/B2/B1": {alarms: map[string]int{"2": 1, "3": 1}, state: floorL2},
				"s1/B10/1": {state: floorOK},
			},
			devices: map[string]string{"gas-3": floorL1, "leak-b1": floorL2, "pm-1": floorOK},
		},
		{
			name: "cleared and shadow alarms are no live faults; an offline device with a fault shows the fault",
			in: floorInput{devices: devs, status: map[string]DeviceStatus{"leak-b1": {Online: true}}, alarms: []ticketing.StoredAlarm{
				alarm("c1", "gas-3", 1, rules.Cleared), {Alarm: rules.Alarm{ID: "s1", Device: "leak-b1", Site: "s1", Building: "B2", Level: 1, State: rules.Raised, Shadow: true}},
				alarm("a4", "pm-1", 3, rules.Raised),
			}},
			cells: map[string]cellWant{
				"s1/B2/3":  {offline: 1, state: floorOffline},
				"s1/B2/B1": {state: floorOK},
				"s1/B10/1": {alarms: map[string]int{"3": 1}, offline: 1, state: floorL3},
			},
			devices: map[string]string{"gas-3": floorOffline, "leak-b1": floorOK, "pm-1": floorL3},
		},
		{
			name: "a ticket of no registered device is where it says, an alarm of none on its building",
			in: floorInput{devices: devs, status: online, tickets: []ticketing.Ticket{
				{ID: 8, Level: 2, Site: "s1", Building: "B2", Floor: "3"},
				{ID: 9, Level: 3, Site: "s1", Building: "B7", Floor: "2"},
				{ID: 10, Level: 1, Site: "s1"}, // no building: on no floor
			}, alarms: []ticketing.StoredAlarm{{Alarm: rules.Alarm{ID: "x", Device: "gone", Site: "s1", Building: "B7", Level: 2, State: rules.Raised}}}},
			cells: map[string]cellWant{
				"s1/B2/3": {tickets: 1, state: floorL2},
				"s1/B7/2": {tickets: 1, state: floorL3},
				"s1/B7/":  {alarms: map[string]int{"2": 1}, state: floorL2},
			},
			devices: map[string]string{"gas-3": floorOK},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := floorGrid(c.in)
			cells, devState := map[string]floorCell{}, map[string]string{}
			for _, sf := range got {
				for _, fc := range sf.Floors {
					cells[sf.Site+"/"+fc.Building+"/"+fc.Floor] = fc
				}
				for _, d := range sf.Devices {
					devState[d.Device] = d.State
				}
			}
			for key, want := range c.cells {
				fc, ok := cells[key]
				if !ok {
					t.Errorf("no floor %s in %v", key, cells)
					continue
				}
				for _, lvl := range []string{"1", "2", "3"} {
					if fc.Alarms[lvl] != want.alarms[lvl] {
						t.Errorf("%s: %d L%s alarms, want %d", key, fc.Alarms[lvl], lvl, want.alarms[lvl])
					}
				}
				if fc.Tickets != want.tickets || fc.Offline != want.offline || fc.State != want.state {
					t.Errorf("%s: tickets %d offline %d state %s, want %d %d %s", key, fc.Tickets, fc.Offline, fc.State, want.tickets, want.offline, want.state)
				}
			}
			for d, want := range c.devices {
				if devState[d] != want {
					t.Errorf("device %s: %q, want %q", d, devState[d], want)
				}
			}
			if _, ok := devState["nowhere"]; ok {
				t.Error("a device of no building is on a floor")
			}
		})
	}

	// The order: buildings by their numbers, floors from the top down.
	got := floorGrid(floorInput{devices: append(devs, devices.Device{ID: "g", Site: "s1", Building: "B2", Floor: "G"},
		devices.Device{ID: "n", Site: "s1", Building: "B2"}, devices.Device{ID: "r", Site: "s1", Building: "B2", Floor: "roof"})})
	if len(got) != 2 || got[0].Site != "s1" || got[1].Site != "s2" {
		t.Fatalf("sites %+v", got)
	}
	if want := []string{"B2", "B10"}; !slices.Equal(got[0].Buildings, want) {
		t.Errorf("buildings %v, want %v", got[0].Buildings, want)
	}
	if want := []string{"12", "3", "1", "G", "B1", "roof", ""}; !slices.Equal(got[0].FloorOrder, want) {
		t.Errorf("floors %q, want %q", got[0].FloorOrder, want)
	}
}

// floorEstate is the test estate with the real ticketing service keeping
// its floor plans (SQLite), photos capped at 4 KiB, and an admin and an
// engineer limited to site s2.
func floorEstate(t *testing.T) (*estate, *ticketing.Service) {
	t.Helper()
	svc, err := ticketing.Open(context.Background(), ticketing.Config{Path: filepath.Join(t.TempDir(), "caretaker.db"), MaxPhotoBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	e := newEstate(t, HubConfig{}, func(c *Config) {
		c.FloorPlans = svc
		c.Tokens = append(slices.Clone(c.Tokens),
			Token{Name: "admin2", Role: RoleAdmin, Token: "admin-s2-token-0001", Sites: []string{"s2"}},
			Token{Name: "eng2", Role: RoleEngineer, Token: "engineer-s2-token-0001", Sites: []string{"s2"}})
	})
	return e, svc
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// putPlan uploads body as the plan of site/building/floor.
func putPlan(t *testing.T, e *estate, token, site, building, floor string, body []byte) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("plan", "plan.png")
	fw.Write(body)
	mw.Close()
	q := url.Values{"site": {site}, "building": {building}, "floor": {floor}}
	req, _ := http.NewRequest("PUT", e.http.URL+"/api/floors/plan?"+q.Encode(), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestFloorPlanUpload(t *testing.T) {
	e, _ := floorEstate(t)
	plan := pngOf(t, 64, 48)
	for _, c := range []struct {
		name                  string
		token                 string
		site, building, floor string
		body                  []byte
		want                  int
	}{
		{"an operator may not upload", tokOperator, "s1", "B2", "3", plan, 403},
		{"an engineer may not upload", tokEngineer, "s1", "B2", "3", plan, 403},
		{"a manager may not upload", tokManager, "s1", "B2", "3", plan, 403},
		{"no token", "", "s1", "B2", "3", plan, 401},
		{"an admin of s2 may not upload s1's", "admin-s2-token-0001", "s1", "B2", "3", plan, 403},
		{"text named plan.png", tokAdmin, "s1", "B2", "3", []byte("<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"), 415},
		{"a GIF", tokAdmin, "s1", "B2", "3", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), 415},
		{"too large", tokAdmin, "s1", "B2", "3", append(pngOf(t, 4, 4), bytes.Repeat([]byte{0}, 5000)...), 413},
		{"no building", tokAdmin, "s1", "", "3", plan, 400},
		{"the admin", tokAdmin, "s1", "B2", "3", plan, 201},
		{"the admin of s2, in s2", "admin-s2-token-0001", "s2", "B1", "", pngOf(t, 10, 10), 201},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := putPlan(t, e, c.token, c.site, c.building, c.floor, c.body)
			if status != c.want {
				t.Fatalf("%d %s, want %d", status, body, c.want)
			}
			if status == 201 {
				var p ticketing.FloorPlan
				if err := json.Unmarshal([]byte(body), &p); err != nil || p.ContentType != "image/png" || p.Building != c.building {
					t.Errorf("answer %s (%v)", body, err)
				}
			}
		})
	}

	// The image, with auth and site scope: the manager reads it; a token
	// of s2 may not; no token gets 401.
	q := "/api/floors/plan?site=s1&building=B2&floor=3"
	for _, c := range []struct {
		token string
		want  int
	}{{tokManager, 200}, {tokOperator, 200}, {"engineer-s2-token-0001", 403}, {"", 401}} {
		req, _ := http.NewRequest("GET", e.http.URL+q, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := e.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET plan as %q: %d, want %d", c.token, resp.StatusCode, c.want)
		}
		if c.want == 200 && (!bytes.Equal(b, plan) || resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("X-Content-Type-Options") != "nosniff") {
			t.Errorf("GET plan: %d bytes, %s", len(b), resp.Header.Get("Content-Type"))
		}
	}
	if status, _ := e.do(t, "GET", "/api/floors/plan?site=s1&building=B2&floor=4", tokOperator, ""); status != 404 {
		t.Errorf("a floor with no plan: %d", status)
	}
}

func TestDevicePlacement(t *testing.T) {
	e, _ := floorEstate(t)
	if status, body := putPlan(t, e, tokAdmin, "s1", "B2", "", pngOf(t, 20, 20)); status != 201 {
		t.Fatalf("upload: %d %s", status, body)
	}
	for _, c := range []struct {
		name, token, device, body string
		want                      int
	}{
		{"an operator may not place", tokOperator, "gas-b2-07", `{"x":0.5,"y":0.5}`, 403},
		{"a manager may not place", tokManager, "gas-b2-07", `{"x":0.5,"y":0.5}`, 403},
		{"an engineer of s2 may not place s1's", "engineer-s2-token-0001", "gas-b2-07", `{"x":0.5,"y":0.5}`, 403},
		{"off the plan", tokEngineer, "gas-b2-07", `{"x":1.2,"y":0.5}`, 400},
		{"no y", tokEngineer, "gas-b2-07", `{"x":0.2}`, 400},
		{"no such device", tokEngineer, "nope", `{"x":0.2,"y":0.2}`, 404},
		{"the engineer", tokEngineer, "gas-b2-07", `{"x":0.25,"y":0.75}`, 200},
		{"the engineer of s2", "engineer-s2-token-0001", "leak-b1-01", `{"x":0.5,"y":0.5}`, 200},
		{"the admin moves it", tokAdmin, "gas-b2-07", `{"x":0.3,"y":0.6}`, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			if status, body := e.do(t, "PUT", "/api/devices/"+c.device+"/position", c.token, c.body); status != c.want {
				t.Fatalf("%d %s, want %d", status, body, c.want)
			}
		})
	}

	// GET /api/floors: the plan, the position, the live fault; a token of
	// s2 sees s2 only.
	e.alarms.active = []rules.Alarm{{ID: "a1", Device: "gas-b2-07", Site: "s1", Building: "B2", Level: 1, State: rules.Raised}}
	e.tickets.open = []ticketing.Ticket{{ID: 7, Level: 1, DeviceID: "gas-b2-07", Site: "s1", Building: "B2", Status: ticketing.StatusNew}}
	var ans struct {
		Sites []siteFloors `json:"sites"`
	}
	status, body := e.do(t, "GET", "/api/floors", tokOperator, "")
	if err := json.Unmarshal([]byte(body), &ans); status != 200 || err != nil || len(ans.Sites) != 2 {
		t.Fatalf("GET /api/floors: %d %s", status, body)
	}
	s1 := ans.Sites[0]
	if len(s1.Floors) != 1 || s1.Floors[0].Plan == nil || s1.Floors[0].Alarms["1"] != 1 || s1.Floors[0].Tickets != 1 || s1.Floors[0].State != floorL1 {
		t.Errorf("s1 floors %+v", s1.Floors)
	}
	if len(s1.Devices) != 1 || s1.Devices[0].X == nil || *s1.Devices[0].X != 0.3 || *s1.Devices[0].Y != 0.6 || s1.Devices[0].State != floorL1 {
		t.Errorf("s1 devices %s", body)
	}
	status, body = e.do(t, "GET", "/api/floors", "engineer-s2-token-0001", "")
	if err := json.Unmarshal([]byte(body), &ans); status != 200 || err != nil || len(ans.Sites) != 1 || ans.Sites[0].Site != "s2" {
		t.Fatalf("GET /api/floors as s2's engineer: %d %s", status, body)
	}
	if status, _ := e.do(t, "GET", "/api/floors?site=s1", "engineer-s2-token-0001", ""); status != 403 {
		t.Errorf("s2's engineer asking for s1: %d", status)
	}
}
