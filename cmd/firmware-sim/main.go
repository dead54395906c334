// Command firmware-sim runs a simulated estate of building devices: MQTT
// devices publish telemetry, events and status to a real broker, Modbus
// devices are served by Modbus TCP gateways, and a scenario makes faults
// happen on cue. It also has a load mode for benchmarks.
//
//	go run ./cmd/firmware-sim --broker tcp://127.0.0.1:1883 --devices 200 --rate 1 --seed 7
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/caretaker-iot/caretaker/devices"
	firmwaresim "github.com/caretaker-iot/caretaker/firmware-sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

const usage = `firmware-sim: a simulated estate of elevators, leak probes, power meters and
gas detectors that speaks to Caretaker over real protocols.

  MQTT devices publish to sites/{site}/devices/{id}/telemetry, .../event and
  .../status ("online"; "offline" is their MQTT will).
  Modbus devices (--modbus-listen) sit behind Modbus TCP gateways, unit ids 1..247
  per gateway, with the register maps of the built-in model library
  (acme-pm3, liftco-lc2, gasguard-gd4, aquasense-lp1; see docs/simulator.md).

Usage: firmware-sim [flags]

Examples:
  firmware-sim
        the 8-device demo estate and the demo scenario on 127.0.0.1:1883
  firmware-sim --devices 1000 --rate 1 --seed 42
        1000 devices over sites, buildings and the four kinds, 1 msg/s each
  firmware-sim --modbus-listen 127.0.0.1:5020 --print-devices > devices.yaml
        write the estate (with its Modbus addresses and models) for Caretaker's
        devices_file, then run the same command without --print-devices
  firmware-sim --scenario outage      a shipped scenario (--list-scenarios)
  firmware-sim --scenario my.yaml     your own timeline of faults
  firmware-sim --faults malformed=0.01,duplicate=0.05,modbus_drop=0.01
        misbehave like real firmware, at those rates per message or request
  firmware-sim --devices 10000 --rate 1 --connections 20 --load 60s --qos 1
        benchmark: publish for 60 s and report the rate the broker took

Flags:
`

const faultHelp = `comma-separated name=rate (0..1) faults: malformed, wrong_type, nan,
future_ts, duplicate, out_of_order, disconnect (clean, so no will;
back after 3 intervals) per MQTT message; modbus_exception, modbus_slow,
modbus_drop per Modbus request`

type options struct {
	broker, username, password string
	modbusListen, modbusKinds  string
	estate, scenario, faults   string
	n, connections, qos        int
	rate                       float64
	seed                       uint64
	load, slowDelay            time.Duration
	exceptionCode              uint
	printDevices, listScen     bool
	verbose                    bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("firmware-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker URL the devices connect to")
	fs.StringVar(&o.username, "username", "", "MQTT username for every device")
	fs.StringVar(&o.password, "password", "", "MQTT password for every device (or $FIRMWARE_SIM_PASSWORD)")
	fs.StringVar(&o.modbusListen, "modbus-listen", "", "serve the --modbus-kinds devices over Modbus TCP from this host:port\n(one gateway per 247 units, next port for the next gateway)")
	fs.StringVar(&o.modbusKinds, "modbus-kinds", "power,elevator", "which kinds go on Modbus when --modbus-listen is set\n(power, elevator, gas, water_leak, actuator)")
	fs.IntVar(&o.n, "devices", 0, "generate N devices spread over sites, buildings and the four kinds\n(0: the 8-device demo estate)")
	fs.StringVar(&o.estate, "estate", "", "devices YAML file (Caretaker's devices_file format: devices and models)\ninstead of --devices")
	fs.Float64Var(&o.rate, "rate", 0.2, "telemetry messages per second per device")
	fs.StringVar(&o.scenario, "scenario", "", "scenario YAML file or built-in name (default: demo with the demo estate,\nnone otherwise)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed, estate and scenario give the same signals")
	fs.IntVar(&o.qos, "qos", 1, "MQTT QoS for telemetry (0 or 1)")
	fs.StringVar(&o.faults, "faults", "", faultHelp)
	fs.DurationVar(&o.slowDelay, "modbus-slow-delay", 2*time.Second, "how late a modbus_slow answer comes")
	fs.UintVar(&o.exceptionCode, "modbus-exception-code", 4, "exception code of modbus_exception: 4 device failure, 6 busy,\n11 gateway target failed to respond")
	fs.DurationVar(&o.load, "load", 0, "load mode: publish for this long, then print the rate achieved and exit")
	fs.IntVar(&o.connections, "connections", 0, "load mode: MQTT connections to share the devices (0: one per device)")
	fs.BoolVar(&o.printDevices, "print-devices", false, "print the estate as a devices YAML file for Caretaker and exit")
	fs.BoolVar(&o.listScen, "list-scenarios", false, "list the built-in scenarios and exit")
	fs.BoolVar(&o.verbose, "v", false, "log every fault and reconnect")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "firmware-sim: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 2
	}
	if o.password == "" {
		o.password = getenv("FIRMWARE_SIM_PASSWORD")
	}
	if err := o.check(); err != nil {
		fmt.Fprintf(stderr, "firmware-sim: %v\n", err)
		return 2
	}
	if o.listScen {
		for _, n := range firmwaresim.BuiltinScenarios() {
			sc, _ := firmwaresim.BuiltinScenario(n)
			fmt.Fprintf(stdout, "%-18s %s\n", n, sc.Description)
		}
		return 0
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if o.load > 0 {
		return runLoad(ctx, o, stdout, stderr, logger)
	}
	cfg, err := o.config(logger)
	if err != nil {
		fmt.Fprintf(stderr, "firmware-sim: %v\n", err)
		return 2
	}
	if o.printDevices {
		if err := printCatalog(stdout, cfg.Devices); err != nil {
			fmt.Fprintf(stderr, "firmware-sim: %v\n", err)
			return 1
		}
		return 0
	}
	sim, err := firmwaresim.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "firmware-sim: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "firmware-sim: %d devices, %.2f msg/s each, seed %d, scenario %q\n", len(cfg.Devices), o.rate, o.seed, cfg.Scenario.Name)
	fmt.Fprintf(stdout, "  MQTT:   %s\n", o.broker)
	for _, a := range sim.ModbusAddrs() {
		fmt.Fprintf(stdout, "  Modbus: tcp://%s\n", a)
	}
	if err := sim.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "firmware-sim: %v\n", err)
		return 1
	}
	return 0
}

func (o options) check() error {
	switch {
	case o.rate <= 0:
		return errors.New("--rate must be above 0")
	case o.qos != 0 && o.qos != 1:
		return errors.New("--qos must be 0 or 1")
	case o.n < 0:
		return errors.New("--devices must not be negative")
	case o.n > 0 && o.estate != "":
		return errors.New("--devices and --estate: give one of them")
	case o.load > 0 && o.n == 0:
		return errors.New("--load needs --devices N")
	case o.connections < 0:
		return errors.New("--connections must not be negative")
	case o.exceptionCode > 255:
		return errors.New("--modbus-exception-code must be a Modbus exception code")
	}
	return nil
}

// config builds the simulator's configuration from the flags.
func (o options) config(logger *slog.Logger) (firmwaresim.Config, error) {
	mq, mb, err := firmwaresim.ParseFaults(o.faults)
	if err != nil {
		return firmwaresim.Config{}, fmt.Errorf("--faults: %w", err)
	}
	mq.Seed, mb.Seed = o.seed, o.seed
	mb.SlowDelay, mb.ExceptionCode = o.slowDelay, byte(o.exceptionCode)
	if err := mb.Validate(); err != nil {
		return firmwaresim.Config{}, fmt.Errorf("--modbus-exception-code: %w", err)
	}
	cfg := firmwaresim.Config{Broker: o.broker, Username: o.username, Password: o.password, Seed: o.seed,
		QoS: byte(o.qos), Interval: time.Duration(float64(time.Second) / o.rate), Logger: logger,
		Faults: mq, ModbusFaults: mb}
	switch {
	case o.estate != "":
		cat, err := devices.LoadCatalog(o.estate)
		if err != nil {
			return cfg, fmt.Errorf("--estate: %w", err)
		}
		cfg.Devices = cat.Devices
		if len(cat.Models) > 0 {
			models, err := devices.BuiltinModels()
			if err != nil {
				return cfg, err
			}
			for k, m := range cat.Models {
				models[k] = m
			}
			cfg.Models = models
		}
	case o.n > 0:
		cfg.Devices = firmwaresim.GenerateEstate(o.n)
	default:
		cfg.Devices = firmwaresim.DemoEstate()
		cfg.Scenario = firmwaresim.DemoScenario()
	}
	if o.modbusListen != "" {
		var kinds []devices.Kind
		for _, k := range strings.Split(o.modbusKinds, ",") {
			if k = strings.TrimSpace(k); k != "" {
				kinds = append(kinds, devices.Kind(k))
			}
		}
		if cfg.Devices, err = firmwaresim.AssignModbus(cfg.Devices, o.modbusListen, kinds); err != nil {
			return cfg, fmt.Errorf("--modbus-listen/--modbus-kinds: %w", err)
		}
	}
	if o.scenario != "" {
		sc, err := firmwaresim.LoadScenario(o.scenario)
		if err != nil {
			return cfg, fmt.Errorf("--scenario: %w", err)
		}
		cfg.Scenario = sc
	}
	return cfg, nil
}

// printCatalog writes the estate in Caretaker's devices_file format, with
// the built-in models its Modbus devices use.
func printCatalog(w io.Writer, estate []devices.Device) error {
	lib, err := devices.BuiltinModels()
	if err != nil {
		return err
	}
	type modbusOut struct {
		Address string `yaml:"address"`
		Unit    byte   `yaml:"unit"`
	}
	type deviceOut struct {
		ID       string       `yaml:"id"`
		Kind     devices.Kind `yaml:"kind"`
		Actuator string       `yaml:"actuator,omitempty"`
		Site     string       `yaml:"site"`
		Building string       `yaml:"building"`
		Floor    string       `yaml:"floor,omitempty"`
		Location string       `yaml:"location,omitempty"`
		Zone     string       `yaml:"zone,omitempty"`
		Model    string       `yaml:"model,omitempty"`
		Modbus   *modbusOut   `yaml:"modbus,omitempty,flow"`
	}
	var cat struct {
		Devices []deviceOut              `yaml:"devices"`
		Models  map[string]devices.Model `yaml:"models,omitempty"`
	}
	cat.Models = map[string]devices.Model{}
	for _, d := range estate {
		o := deviceOut{ID: d.ID, Kind: d.Kind, Actuator: d.Actuator, Site: d.Site, Building: d.Building, Floor: d.Floor,
			Location: d.Location, Zone: d.Zone, Model: d.Model}
		if d.Modbus != nil {
			o.Modbus = &modbusOut{Address: d.Modbus.Address, Unit: d.Modbus.Unit}
			cat.Models[d.Model] = lib[d.Model]
		}
		cat.Devices = append(cat.Devices, o)
	}
	fmt.Fprintln(w, "# Generated by firmware-sim: Caretaker's devices_file for this simulated estate.")
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(cat); err != nil {
		return err
	}
	return enc.Close()
}

func runLoad(ctx context.Context, o options, stdout, stderr io.Writer, logger *slog.Logger) int {
	res, err := firmwaresim.Load(ctx, firmwaresim.LoadConfig{Broker: o.broker, Username: o.username, Password: o.password,
		Devices: o.n, Rate: o.rate, Duration: o.load, QoS: byte(o.qos), Connections: o.connections, Seed: o.seed, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "firmware-sim: load: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, res)
	return 0
}
