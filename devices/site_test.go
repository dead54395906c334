package devices

import (
	"strings"
	"testing"
	"time"
)

func TestSites(t *testing.T) {
	tests := []struct {
		name    string
		def     string
		list    []Site
		site    string
		want    string
		wantErr string
	}{
		{name: "default zone", def: "Asia/Shanghai", site: "s1", want: "Asia/Shanghai"},
		{name: "a site's own zone", def: "Asia/Shanghai", list: []Site{{ID: "s2", TimeZone: "Europe/Berlin"}}, site: "s2", want: "Europe/Berlin"},
		{name: "a site without a zone keeps the default", def: "Asia/Shanghai", list: []Site{{ID: "s2"}}, site: "s2", want: "Asia/Shanghai"},
		{name: "bad default", def: "Mars/Olympus", wantErr: "time_zone: "},
		{name: "bad site zone", def: "UTC", list: []Site{{ID: "s1"}, {ID: "s2", TimeZone: "+08:00"}}, wantErr: "sites[1].time_zone: "},
		{name: "bad id", def: "UTC", list: []Site{{ID: "s 1"}}, wantErr: "sites[0].id: "},
		{name: "twice", def: "UTC", list: []Site{{ID: "s1"}, {ID: "s1"}}, wantErr: "sites[1].id: "},
		{name: "buildings", def: "UTC", list: []Site{{ID: "s1", Buildings: []Building{{ID: "B3", Units: []string{"1", "2"}, Floors: 18, Rooms: []string{"01", "02"}}, {ID: "B4"}}}}, site: "s1", want: "UTC"},
		{name: "building without id", def: "UTC", list: []Site{{ID: "s1"}, {ID: "s2", Buildings: []Building{{Name: "3号楼"}}}}, wantErr: "sites[1].buildings[0].id: "},
		{name: "building twice", def: "UTC", list: []Site{{ID: "s1", Buildings: []Building{{ID: "B3"}, {ID: "B3"}}}}, wantErr: "sites[0].buildings[1].id: "},
		{name: "unit twice", def: "UTC", list: []Site{{ID: "s1", Buildings: []Building{{ID: "B3", Units: []string{"1", "1"}}}}}, wantErr: "sites[0].buildings[0].units[1]: "},
		{name: "empty room", def: "UTC", list: []Site{{ID: "s1", Buildings: []Building{{ID: "B3", Floors: 3, Rooms: []string{""}}}}}, wantErr: "sites[0].buildings[0].rooms[0]: "},
		{name: "rooms without floors", def: "UTC", list: []Site{{ID: "s1", Buildings: []Building{{ID: "B3", Rooms: []string{"01"}}}}}, wantErr: "sites[0].buildings[0].rooms: "},
		{name: "floors out of range", def: "UTC", list: []Site{{ID: "s1", Buildings: []Building{{ID: "B3", Floors: 201}}}}, wantErr: "sites[0].buildings[0].floors: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSites(tc.def, tc.list)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want prefix %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Location(tc.site).String(); got != tc.want {
				t.Fatalf("Location(%q) = %s, want %s", tc.site, got, tc.want)
			}
			for _, x := range s.List() {
				if x.TimeZone == "" {
					t.Fatalf("List: site %s has no zone", x.ID)
				}
			}
		})
	}
}

func TestLocalDate(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"2026-11-01", "2026-10-31T16:00:00Z", true},
		{"2026-11-01T08:30", "2026-11-01T00:30:00Z", true},
		{"2026-11-01T08:30:15", "2026-11-01T00:30:15Z", true},
		{"2026-11-01T08:30:15Z", "", false},
		{"yesterday", "", false},
	} {
		got, ok := LocalDate(tc.in, sh)
		if ok != tc.ok || (ok && got.UTC().Format(time.RFC3339) != tc.want) {
			t.Errorf("LocalDate(%q) = %v, %v; want %s, %v", tc.in, got.UTC(), ok, tc.want, tc.ok)
		}
	}
}

func TestSiteBuildings(t *testing.T) {
	s, err := NewSites("UTC", []Site{{ID: "s1"}, {ID: "s2", Buildings: []Building{{ID: "3号楼", Floors: 12, Rooms: []string{"01", "02"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, found, listed := s.Building("s1", "B1"); found || listed {
		t.Errorf("s1 lists no buildings: found %v listed %v", found, listed)
	}
	if _, found, listed := s.Building("s2", "9号楼"); found || !listed {
		t.Errorf("s2 9号楼: found %v listed %v", found, listed)
	}
	b, found, _ := s.Building("s2", "3号楼")
	if !found {
		t.Fatal("s2 3号楼 not found")
	}
	for room, want := range map[string]bool{"101": true, "1202": true, "1203": false, "1301": false, "01": false, "001": false} {
		if b.HasRoom(room) != want {
			t.Errorf("HasRoom(%q) = %v", room, !want)
		}
	}
}
