// Command firmware-sim runs a simulated estate of building devices that
// publish telemetry, events and status over a real MQTT broker.
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
	"syscall"
	"time"

	firmwaresim "github.com/caretaker-iot/caretaker/firmware-sim"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("firmware-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	broker := fs.String("broker", "tcp://127.0.0.1:1883", "MQTT broker URL the devices connect to")
	username := fs.String("username", "", "MQTT username for every device")
	password := fs.String("password", "", "MQTT password for every device (or $FIRMWARE_SIM_PASSWORD)")
	n := fs.Int("devices", 0, "number of generated devices spread over sites, buildings and the four kinds (0: the 8-device demo estate)")
	rate := fs.Float64("rate", 0.2, "telemetry messages per second per device")
	scenario := fs.String("scenario", "", "scenario YAML file (default: the demo scenario with the demo estate, none otherwise)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same signals")
	qos := fs.Int("qos", 1, "MQTT QoS for telemetry (0 or 1)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `firmware-sim: a simulated estate of elevators, leak probes, power meters and
gas detectors speaking MQTT (topics sites/{site}/devices/{id}/telemetry|event|status).

Usage: firmware-sim [flags]

Examples:
  firmware-sim                                  demo estate + demo scenario on 127.0.0.1:1883
  firmware-sim --devices 1000 --rate 1          1000 devices, one message per second each
  firmware-sim --scenario my.yaml --seed 42     your timeline of faults

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *rate <= 0 {
		fmt.Fprintln(stderr, "firmware-sim: --rate must be above 0")
		return 2
	}
	if *qos != 0 && *qos != 1 {
		fmt.Fprintln(stderr, "firmware-sim: --qos must be 0 or 1")
		return 2
	}
	if *password == "" {
		*password = os.Getenv("FIRMWARE_SIM_PASSWORD")
	}
	cfg := firmwaresim.Config{Broker: *broker, Username: *username, Password: *password, Seed: *seed,
		QoS: byte(*qos), Interval: time.Duration(float64(time.Second) / *rate),
		Logger: slog.New(slog.NewTextHandler(stderr, nil))}
	if *n > 0 {
		cfg.Devices = firmwaresim.GenerateEstate(*n)
	} else {
		cfg.Devices = firmwaresim.DemoEstate()
		cfg.Scenario = firmwaresim.DemoScenario()
	}
	if *scenario != "" {
		sc, err := firmwaresim.LoadScenario(*scenario)
		if err != nil {
			fmt.Fprintf(stderr, "firmware-sim: --scenario: %v\n", err)
			return 2
		}
		cfg.Scenario = sc
	}
	sim, err := firmwaresim.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "firmware-sim: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "firmware-sim: %d devices -> %s, %.2f msg/s each, seed %d\n", len(cfg.Devices), *broker, *rate, *seed)
	if err := sim.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "firmware-sim: %v\n", err)
		return 1
	}
	return 0
}
