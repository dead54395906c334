package dashboard

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// FloorPlans keeps the floor plans of the sites and where devices sit on
// them; *ticketing.Service is one.
type FloorPlans interface {
	PutFloorPlan(ctx context.Context, by ticketing.Actor, f ticketing.FloorKey, body io.Reader) (ticketing.FloorPlan, error)
	OpenFloorPlan(ctx context.Context, f ticketing.FloorKey) (ticketing.FloorPlan, io.ReadSeekCloser, error)
	FloorPlans(ctx context.Context, sites []string) ([]ticketing.FloorPlan, error)
	PlaceDevice(ctx context.Context, by ticketing.Actor, d devices.Device, x, y float64) (ticketing.DevicePosition, error)
	DevicePositions(ctx context.Context, sites []string) ([]ticketing.DevicePosition, error)
}

// Who uploads floor plans (an admin) and who places devices on them (an
// engineer; an admin may do everything). A token limited to sites does
// so for its sites only.
var (
	actPlan  = action{name: "floorplan", verb: "upload floor plans", roles: nil}
	actPlace = action{name: "place", verb: "place devices on floor plans", roles: []string{RoleEngineer}}
)

// maxPlanBody caps a floor plan upload request; the store holds the
// (smaller) limit of the image itself (tickets.max_photo_bytes).
const maxPlanBody = maxPhotoBody

func (s *Server) floorRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/floors", s.requireRole(actRead, s.floors))
	mux.HandleFunc("PUT /api/floors/plan", s.requireRole(actPlan, s.putFloorPlan))
	mux.HandleFunc("GET /api/floors/plan", s.requireRole(actRead, s.getFloorPlan))
	mux.HandleFunc("PUT /api/devices/{id}/position", s.requireRole(actPlace, s.placeDevice))
}

// Floor states, worst first: a live fault of that level, a device that
// is not reporting, or all fine.
const (
	floorL1      = "l1"
	floorL2      = "l2"
	floorL3      = "l3"
	floorOffline = "offline"
	floorOK      = "ok"
)

// floorCell is one floor of one building and what is wrong there now.
type floorCell struct {
	Building string `json:"building"`
	Floor    string `json:"floor"`
	// Alarms counts the active alarms by level ("1", "2", "3"); Tickets
	// the open tickets.
	Alarms  map[string]int `json:"alarms"`
	Tickets int            `json:"tickets"`
	Devices int            `json:"devices"`
	Offline int            `json:"offline"`
	// Worst is the most urgent level of its live faults, 0 for none.
	Worst int                  `json:"worst"`
	State string               `json:"state"`
	Plan  *ticketing.FloorPlan `json:"plan,omitempty"`
}

// floorDevice is a device as the floor view places it.
type floorDevice struct {
	Device   string       `json:"device_id"`
	Kind     devices.Kind `json:"kind"`
	Building string       `json:"building"`
	Floor    string       `json:"floor"`
	Location string       `json:"location,omitempty"`
	Online   bool         `json:"online"`
	// X and Y: where it sits on its floor's plan, as fractions of the
	// plan's width and height; absent when not placed.
	X     *float64 `json:"x,omitempty"`
	Y     *float64 `json:"y,omitempty"`
	Worst int      `json:"worst"`
	State string   `json:"state"`
}

// siteFloors is the floor view of one site.
type siteFloors struct {
	Site      string   `json:"site"`
	Buildings []string `json:"buildings"`
	// FloorOrder lists the floor names from the top down (12, 3, 1, B1,
	// then "": floor not given).
	FloorOrder []string      `json:"floor_order"`
	Floors     []floorCell   `json:"floors"`
	Devices    []floorDevice `json:"devices"`
}

// floorInput is what the floor view is made of.
type floorInput struct {
	devices   []devices.Device
	status    map[string]DeviceStatus // nil: online status unknown, none counted offline
	alarms    []ticketing.StoredAlarm
	tickets   []ticketing.Ticket
	plans     []ticketing.FloorPlan
	positions []ticketing.DevicePosition
}

type floorAt struct{ site, building, floor string }

// floorGrid places the registered devices, the active alarms (not
// shadow ones) and the open tickets on their site's buildings and
// floors. An alarm or a ticket of a registered device is where the
// device is; another is where it says it is (a ticket's building and
// floor, an alarm's building), and one of no building is on no floor.
func floorGrid(in floorInput) []siteFloors {
	where := make(map[string]floorAt, len(in.devices))
	cells := map[floorAt]*floorCell{}
	cell := func(at floorAt) *floorCell {
		c, ok := cells[at]
		if !ok {
			c = &floorCell{Building: at.building, Floor: at.floor, Alarms: map[string]int{"1": 0, "2": 0, "3": 0}}
			cells[at] = c
		}
		return c
	}
	worse := func(cur, level int) int {
		if level >= 1 && level <= 3 && (cur == 0 || level < cur) {
			return level
		}
		return cur
	}
	devWorst := map[string]int{}
	for _, d := range in.devices {
		if d.Building == "" {
			continue
		}
		at := floorAt{d.Site, d.Building, d.Floor}
		where[d.ID] = at
		c := cell(at)
		c.Devices++
		if st, ok := in.status[d.ID]; in.status != nil && (!ok || !st.Online) {
			c.Offline++
		}
	}
	for _, a := range in.alarms {
		if a.Shadow || a.State == rules.Cleared {
			continue
		}
		at, ok := where[a.Device]
		if !ok {
			if a.Building == "" {
				continue
			}
			at = floorAt{a.Site, a.Building, ""}
		} else {
			devWorst[a.Device] = worse(devWorst[a.Device], a.Level)
		}
		c := cell(at)
		if a.Level >= 1 && a.Level <= 3 {
			c.Alarms[strconv.Itoa(a.Level)]++
		}
		c.Worst = worse(c.Worst, a.Level)
	}
	for _, tk := range in.tickets {
		at, ok := where[tk.DeviceID]
		if !ok {
			if tk.Building == "" {
				continue
			}
			at = floorAt{tk.Site, tk.Building, tk.Floor}
		} else {
			devWorst[tk.DeviceID] = worse(devWorst[tk.DeviceID], tk.Level)
		}
		c := cell(at)
		c.Tickets++
		c.Worst = worse(c.Worst, tk.Level)
	}
	for i := range in.plans {
		p := in.plans[i]
		cell(floorAt{p.Site, p.Building, p.Floor}).Plan = &p
	}
	placed := map[string]ticketing.DevicePosition{}
	for _, p := range in.positions {
		placed[p.Device] = p
	}

	bySite := map[string]*siteFloors{}
	site := func(id string) *siteFloors {
		sf, ok := bySite[id]
		if !ok {
			sf = &siteFloors{Site: id, Buildings: []string{}, FloorOrder: []string{}, Floors: []floorCell{}, Devices: []floorDevice{}}
			bySite[id] = sf
		}
		return sf
	}
	for at, c := range cells {
		c.State = stateOf(c.Worst, c.Offline > 0)
		sf := site(at.site)
		sf.Floors = append(sf.Floors, *c)
	}
	for _, d := range in.devices {
		at, ok := where[d.ID]
		if !ok {
			continue
		}
		fd := floorDevice{Device: d.ID, Kind: d.Kind, Building: d.Building, Floor: d.Floor, Location: d.Location, Worst: devWorst[d.ID]}
		st, known := in.status[d.ID]
		fd.Online = in.status == nil || (known && st.Online)
		fd.State = stateOf(fd.Worst, !fd.Online)
		// A position taken on another floor (the device has moved since)
		// is not shown on this one.
		if p, ok := placed[d.ID]; ok && p.Site == at.site && p.Building == at.building && p.Floor == at.floor {
			x, y := p.X, p.Y
			fd.X, fd.Y = &x, &y
		}
		sf := site(at.site)
		sf.Devices = append(sf.Devices, fd)
	}
	out := make([]siteFloors, 0, len(bySite))
	for _, sf := range bySite {
		buildings, floors := map[string]bool{}, map[string]bool{}
		for _, c := range sf.Floors {
			buildings[c.Building], floors[c.Floor] = true, true
		}
		for b := range buildings {
			sf.Buildings = append(sf.Buildings, b)
		}
		sort.Slice(sf.Buildings, func(i, j int) bool { return naturalLess(sf.Buildings[i], sf.Buildings[j]) })
		for f := range floors {
			sf.FloorOrder = append(sf.FloorOrder, f)
		}
		sort.Slice(sf.FloorOrder, func(i, j int) bool { return floorAbove(sf.FloorOrder[i], sf.FloorOrder[j]) })
		rank := map[string]int{}
		for i, f := range sf.FloorOrder {
			rank[f] = i
		}
		bRank := map[string]int{}
		for i, b := range sf.Buildings {
			bRank[b] = i
		}
		sort.Slice(sf.Floors, func(i, j int) bool {
			a, b := sf.Floors[i], sf.Floors[j]
			if rank[a.Floor] != rank[b.Floor] {
				return rank[a.Floor] < rank[b.Floor]
			}
			return bRank[a.Building] < bRank[b.Building]
		})
		sort.Slice(sf.Devices, func(i, j int) bool { return sf.Devices[i].Device < sf.Devices[j].Device })
		out = append(out, *sf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Site < out[j].Site })
	return out
}

func stateOf(worst int, offline bool) string {
	switch {
	case worst == 1:
		return floorL1
	case worst == 2:
		return floorL2
	case worst == 3:
		return floorL3
	case offline:
		return floorOffline
	}
	return floorOK
}

// floorLevel reads a floor name as a storey number: "12", "3F", "L3" and
// "3楼"/"3层" are 12 and 3, "G" and "GF" 0, "B1", "-1" and "B1F" -1; ok is
// false for any other name.
func floorLevel(f string) (int, bool) {
	s := strings.ToUpper(strings.TrimSpace(f))
	for _, suf := range []string{"楼", "层", "F"} {
		s = strings.TrimSuffix(s, suf)
	}
	if s == "G" {
		return 0, true
	}
	neg := false
	switch {
	case strings.HasPrefix(s, "B"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "L"):
		s = s[1:]
	}
	n, err := strconv.Atoi(s)
	if err != nil || s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// floorAbove orders floors from the top down: storeys by number, then
// other names, then "" (floor not given).
func floorAbove(a, b string) bool {
	if (a == "") != (b == "") {
		return b == ""
	}
	la, oka := floorLevel(a)
	lb, okb := floorLevel(b)
	switch {
	case oka && okb && la != lb:
		return la > lb
	case oka != okb:
		return oka
	}
	return naturalLess(a, b)
}

// naturalLess orders names with their numbers by value: B2 before B10.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitsPrefix(a), digitsPrefix(b)
		if da != "" && db != "" {
			na, _ := strconv.Atoi(da)
			nb, _ := strconv.Atoi(db)
			if na != nb || len(da) > 9 || len(db) > 9 {
				if na == nb {
					return da < db
				}
				return na < nb
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitsPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// floors answers GET /api/floors[?site=]: each site's buildings and
// floors with what is wrong on each now, its devices with their state
// and place on the plan, and the floors' plans.
func (s *Server) floors(w http.ResponseWriter, r *http.Request, p principal) {
	sites, ok := siteParam(w, p, r.URL.Query().Get("site"))
	if !ok {
		return
	}
	in, err := s.floorInput(r.Context(), sites)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	visible := func(site string) bool {
		if len(sites) == 0 {
			return true
		}
		for _, v := range sites {
			if v == site {
				return true
			}
		}
		return false
	}
	out := []siteFloors{}
	for _, sf := range floorGrid(in) {
		if visible(sf.Site) {
			out = append(out, sf)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sites": out})
}

func (s *Server) floorInput(ctx context.Context, sites []string) (floorInput, error) {
	in := floorInput{devices: s.cfg.Registry.Devices()}
	var err error
	if in.alarms, err = s.cfg.Alarms.Alarms(ctx, ticketing.AlarmsActive); err != nil {
		return in, err
	}
	if in.tickets, err = s.cfg.Tickets.OpenTickets(ctx); err != nil {
		return in, err
	}
	if s.cfg.Live != nil {
		in.status = map[string]DeviceStatus{}
		for _, st := range s.cfg.Live.Statuses() {
			in.status[st.Device] = st
		}
	}
	if s.cfg.FloorPlans != nil {
		if in.plans, err = s.cfg.FloorPlans.FloorPlans(ctx, sites); err != nil {
			return in, err
		}
		if in.positions, err = s.cfg.FloorPlans.DevicePositions(ctx, sites); err != nil {
			return in, err
		}
	}
	return in, nil
}

// floorKey reads ?site=&building=&floor= and answers 403 for a site p
// may not see; ok false means the answer is written.
func floorKey(w http.ResponseWriter, r *http.Request, p principal) (ticketing.FloorKey, bool) {
	q := r.URL.Query()
	f := ticketing.FloorKey{Site: q.Get("site"), Building: q.Get("building"), Floor: q.Get("floor")}
	if err := ticketing.CheckFloor(f); err != nil {
		var fe *ticketing.FieldError
		errors.As(err, &fe)
		writeError(w, http.StatusBadRequest, err.Error(), fe.Field)
		return f, false
	}
	if !p.seesSite(f.Site) {
		writeError(w, http.StatusForbidden, "site "+quoteShort(f.Site)+": this token may see "+strings.Join(p.siteList(), ", ")+" only", "site")
		return f, false
	}
	return f, true
}

// putFloorPlan answers PUT /api/floors/plan?site=&building=&floor=: a
// multipart/form-data body whose part "plan" (or "file") is a PNG or
// JPEG image, typed by its bytes (its name ignored), streamed to disk. It
// replaces the floor's plan. 201 with the plan; 413 too large; 415 not a
// PNG or JPEG.
func (s *Server) putFloorPlan(w http.ResponseWriter, r *http.Request, p principal) {
	if s.cfg.FloorPlans == nil {
		writeError(w, http.StatusServiceUnavailable, "floor plans are not available", "")
		return
	}
	f, ok := floorKey(w, r, p)
	if !ok {
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		writeError(w, http.StatusBadRequest, "body must be multipart/form-data with a part named plan", "plan")
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.TransferTimeout)) // a network deadline: the wall clock
	r.Body = http.MaxBytesReader(w, r.Body, maxPlanBody)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error(), "plan")
		return
	}
	tooLarge := func() {
		writeError(w, http.StatusRequestEntityTooLarge, "plan: "+ticketing.ErrPlanTooLarge.Error(), "plan")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			writeError(w, http.StatusBadRequest, "plan: required (a part named plan)", "plan")
			return
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			tooLarge()
			return
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "body: not valid multipart data", "plan")
			return
		}
		if name := part.FormName(); name != "plan" && name != "file" {
			part.Close()
			continue
		}
		plan, err := s.cfg.FloorPlans.PutFloorPlan(r.Context(), actor(p), f, part)
		part.Close()
		switch {
		case errors.As(err, &tooBig), errors.Is(err, ticketing.ErrPlanTooLarge):
			tooLarge()
		case errors.Is(err, ticketing.ErrPlanType):
			writeError(w, http.StatusUnsupportedMediaType, "plan: "+ticketing.ErrPlanType.Error(), "plan")
		case err != nil:
			s.serviceError(w, r, err)
		default:
			s.log.Info("floor plan uploaded", "site", f.Site, "building", f.Building, "floor", f.Floor, "by", p.Name, "bytes", plan.Size)
			writeJSON(w, http.StatusCreated, plan)
		}
		return
	}
}

// getFloorPlan answers GET /api/floors/plan?site=&building=&floor= with
// the image.
func (s *Server) getFloorPlan(w http.ResponseWriter, r *http.Request, p principal) {
	if s.cfg.FloorPlans == nil {
		writeError(w, http.StatusServiceUnavailable, "floor plans are not available", "")
		return
	}
	f, ok := floorKey(w, r, p)
	if !ok {
		return
	}
	plan, file, err := s.cfg.FloorPlans.OpenFloorPlan(r.Context(), f)
	if errors.Is(err, ticketing.ErrNotFound) {
		writeErrorCode(w, http.StatusNotFound, "no floor plan of "+quoteShort(f.Building+" "+f.Floor), "floor", "not_found", nil)
		return
	}
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	defer file.Close()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.TransferTimeout)) // a network deadline: the wall clock
	h := w.Header()
	h.Set("Content-Type", plan.ContentType) // sniffed and decoded at upload; only PNG and JPEG are stored
	h.Set("Content-Disposition", "inline")
	h.Set("Cache-Control", "private, no-cache")
	http.ServeContent(w, r, "", plan.UploadedAt, file)
}

// placeDevice answers PUT /api/devices/{id}/position with {"x", "y"}:
// where the device sits on its floor's plan, as fractions (0..1) of the
// plan's width and height from its top left corner.
func (s *Server) placeDevice(w http.ResponseWriter, r *http.Request, p principal) {
	if s.cfg.FloorPlans == nil {
		writeError(w, http.StatusServiceUnavailable, "floor plans are not available", "")
		return
	}
	d, ok := s.cfg.Registry.Lookup(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no device "+quoteShort(r.PathValue("id")), "id")
		return
	}
	if !deviceVisible(w, p, d) {
		return
	}
	var body struct {
		X *float64 `json:"x"`
		Y *float64 `json:"y"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.X == nil || body.Y == nil {
		field := "x"
		if body.X != nil {
			field = "y"
		}
		writeError(w, http.StatusBadRequest, field+": required (a fraction from 0 to 1 of the plan)", field)
		return
	}
	pos, err := s.cfg.FloorPlans.PlaceDevice(r.Context(), actor(p), d, *body.X, *body.Y)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pos)
}
