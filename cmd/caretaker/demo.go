package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/caretaker-iot/caretaker/dashboard"
	"github.com/caretaker-iot/caretaker/devices"
	firmwaresim "github.com/caretaker-iot/caretaker/firmware-sim"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/notify"
	"github.com/caretaker-iot/caretaker/ticketing"
)

func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http", "127.0.0.1:8080", "dashboard listen address")
	mqttAddr := fs.String("mqtt", "127.0.0.1:1883", "embedded MQTT broker listen address (devices connect here)")
	dataDir := fs.String("data", "", "keep the SQLite files in this folder (default: a temporary folder removed on exit)")
	seed := fs.Uint64("seed", 1, "simulator seed: the same seed plays the same estate")
	rate := fs.Float64("rate", 0.5, "telemetry messages per second per simulated device")
	quiet := fs.Bool("quiet", false, "log warnings and errors only")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: caretaker demo [flags]

Runs everything in one process: the embedded MQTT broker, the embedded stores,
a simulated estate of 9 devices and the dashboard. Within a minute gas rises
in the B2 boiler room (an L1 alarm and ticket), then the B1 pump room floods,
then passengers are trapped in elevator E3. Open the printed URL to watch.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *rate <= 0 {
		return usageError{"--rate must be above 0"}
	}
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "caretaker-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}

	cfg := defaultConfig()
	cfg.HTTP.Listen = *httpAddr
	cfg.MQTT.Embedded = true
	cfg.MQTT.EmbeddedListen = *mqttAddr
	cfg.Store.Path = filepath.Join(dir, "caretaker.db")
	cfg.Store.ReadingsPath = filepath.Join(dir, "readings.db")
	cfg.Store.PhotosDir = filepath.Join(dir, "photos")
	// The estate's sensors, and the valves and fan the rules command
	// (a leak closes zone z1's water valve once an operator confirms; gas
	// shuts its gas valve and starts the fan at once).
	cfg.Devices = append(firmwaresim.DemoEstate(), firmwaresim.DemoActuators()...)
	// The simulated estate logs in as one gateway for its devices; other
	// clients may publish without credentials (demo only: the broker logs
	// a warning), with a device's rights and no more.
	simPassword := randomToken()
	simHash, err := mqtt.HashPassword(simPassword)
	if err != nil {
		return err
	}
	simUser := mqtt.User{Username: "demo-firmware-sim", PasswordHash: simHash}
	for _, d := range cfg.Devices {
		simUser.Devices = append(simUser.Devices, d.ID)
	}
	cfg.MQTT.Users = []mqtt.User{simUser}
	cfg.MQTT.Anonymous = true
	if *quiet {
		cfg.Log.Level = "warn"
	}
	for _, role := range ticketing.Roles() { // one printed token each, the operator's first
		cfg.Auth.Tokens = append(cfg.Auth.Tokens, dashboard.Token{Name: "demo-" + role, Role: role, Token: randomToken()})
	}
	cfg.Config = demoPaging()
	// The estate is in China: its days, months and every time a person
	// reads are Shanghai time whatever the machine says.
	cfg.TimeZone = "Asia/Shanghai"
	cfg.Sites = []devices.Site{{ID: "s1", Name: "北区", NameEn: "North estate", TimeZone: "Asia/Shanghai"}}
	if err := applyEnv(&cfg, env); err != nil {
		return err
	}
	cfg.inheritZone()
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	simDone := make(chan error, 1)
	simStarted := false
	onStart := func(st started) {
		fmt.Fprintf(stdout, "\nCaretaker demo is running. Data in %s\n\n", dir)
		fmt.Fprintf(stdout, "  Dashboard:  http://%s/#token=%s\n", st.HTTPAddr, cfg.Auth.Tokens[0].Token)
		fmt.Fprintf(stdout, "  MQTT:       tcp://%s (devices publish to sites/{site}/devices/{id}/telemetry;\n", st.MQTTAddr)
		fmt.Fprintln(stdout, "              the demo takes them without credentials, outside the demo every device needs its own)")
		fmt.Fprintln(stdout)
		fmt.Fprintln(stdout, "  Tokens (Authorization: Bearer <token>, or paste on the login screen):")
		for _, t := range cfg.Auth.Tokens {
			fmt.Fprintf(stdout, "    %-11s %s\n", t.Role, t.Token)
		}
		fmt.Fprintf(stdout, "\n  Try: curl -H 'Authorization: Bearer %s' http://%s/api/tickets\n", cfg.Auth.Tokens[0].Token, st.HTTPAddr)
		fmt.Fprintln(stdout, "  Gas rises in the B2 boiler room about 30 s from now. Ctrl-C stops the demo.")
		sim, err := firmwaresim.New(firmwaresim.Config{
			Broker: "tcp://" + st.MQTTAddr, Username: simUser.Username, Password: simPassword,
			Devices: cfg.Devices, Scenario: firmwaresim.DemoScenario(),
			Interval: time.Duration(float64(time.Second) / *rate), Seed: *seed, QoS: 1,
			Logger: logger.With("component", "firmware-sim"),
		})
		if err != nil {
			simStarted = true
			simDone <- err
			cancel()
			return
		}
		simStarted = true
		go func() { simDone <- sim.Run(ctx) }()
	}
	err = serve(ctx, cfg, logger, onStart)
	cancel()
	if simStarted {
		if serr := <-simDone; err == nil && serr != nil {
			err = fmt.Errorf("firmware-sim: %w", serr)
		}
	}
	return err
}

// demoPaging pages through the log channel only, so a newcomer sees on
// each ticket who would have been paged, and when, and nobody is
// disturbed: the technician on duty and the control room at once, the
// supervisor after 5 minutes, the project manager after 15 (L1).
func demoPaging() notify.Config {
	d := func(s string) devices.Duration { v, _ := time.ParseDuration(s); return devices.Duration(v) }
	screen := []string{"screen"}
	return notify.Config{
		People: []notify.Person{
			{Name: "demo-technician", Phone: "+8613800000001", Lang: notify.LangZH},
			{Name: "demo-operator", Roles: []string{notify.RoleControlRoom}, Lang: notify.LangZH},
			{Name: "demo-supervisor", Email: "supervisor@example.com", Roles: []string{notify.RoleSupervisor}, Lang: notify.LangEN},
			{Name: "demo-manager", Email: "manager@example.com", Roles: []string{notify.RoleProjectMgr}, Lang: notify.LangZH},
		},
		Rosters:  notify.Rosters{{Name: "all day", People: []string{"demo-technician"}, Shifts: []string{"mon-sun 00:00-24:00"}}},
		Channels: []notify.ChannelConfig{{Name: "screen", Type: notify.TypeLog}},
		// Shifts keep the sites' zone (time_zone: Asia/Shanghai).
		Notify: notify.Settings{Policies: []notify.Policy{
			{Level: 1, Steps: []notify.Step{
				{After: d("0s"), To: []string{notify.ToOnDuty, notify.RoleControlRoom}, Via: screen},
				{After: d("5m"), To: []string{notify.RoleSupervisor}, Via: screen},
				{After: d("15m"), To: []string{notify.RoleProjectMgr}, Via: screen},
			}},
			{Level: 2, Steps: []notify.Step{{After: d("0s"), To: []string{notify.ToOnDuty}, Via: screen}}},
		}},
	}
}

func randomToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
