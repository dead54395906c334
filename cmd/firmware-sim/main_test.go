package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

func noenv(string) string { return "" }

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--help"}, 0, "", "Examples:"},
		{[]string{"--list-scenarios"}, 0, "outage ", ""},
		{[]string{"--rate", "0"}, 2, "", "--rate must be above 0"},
		{[]string{"--qos", "2"}, 2, "", "--qos must be 0 or 1"},
		{[]string{"--devices", "5", "--estate", "x.yaml"}, 2, "", "give one of them"},
		{[]string{"--load", "1s"}, 2, "", "--load needs --devices"},
		{[]string{"--faults", "nan=3", "--print-devices"}, 2, "", "--faults: nan"},
		{[]string{"--faults", "gremlins=0.1", "--print-devices"}, 2, "", "malformed"},
		{[]string{"--scenario", "nope", "--print-devices"}, 2, "", "no built-in scenario \"nope\""},
		{[]string{"--modbus-listen", "nohost", "--print-devices"}, 2, "", "--modbus-listen"},
		{[]string{"--modbus-kinds", "toaster", "--modbus-listen", "127.0.0.1:5020", "--print-devices"}, 2, "", "toaster"},
		{[]string{"--estate", "/nonexistent.yaml"}, 2, "", "no such file"},
		{[]string{"extra"}, 2, "", "unexpected argument"},
		{[]string{"--bogus"}, 2, "", "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errb, noenv)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
			}
		})
	}
}

// TestPrintDevicesFeedsCaretaker: the printed estate is a devices file
// Caretaker's registry accepts, with the Modbus devices on the library.
func TestPrintDevicesFeedsCaretaker(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--devices", "300", "--modbus-listen", "127.0.0.1:5020", "--print-devices"}, &out, &errb, noenv); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	cat, err := devices.ParseCatalog(&out)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := devices.NewRegistry(cat)
	if err != nil {
		t.Fatal(err)
	}
	onModbus := 0
	for _, d := range reg.Devices() {
		if d.Modbus != nil {
			onModbus++
			if _, ok := reg.Model(d.Model); !ok {
				t.Fatalf("%s: model %s missing", d.ID, d.Model)
			}
		}
	}
	if reg.Len() != 300 || onModbus != 150 || len(cat.Models) != 2 {
		t.Fatalf("%d devices, %d on Modbus, models %v", reg.Len(), onModbus, len(cat.Models))
	}
}

// TestRunAgainstBroker: the command's default estate publishes to a real
// mosquitto until stopped; load mode reports a rate.
func TestRunAgainstBroker(t *testing.T) {
	broker := testserver.Mosquitto(t)
	got := make(chan string, 100)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + broker.Addr).SetClientID("cmd-test"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	c.Subscribe("sites/+/devices/+/telemetry", 0, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case got <- m.Topic():
		default:
		}
	}).WaitTimeout(5 * time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--broker", "tcp://" + broker.Addr, "--rate", "20", "--devices", "4"}, &out, &errb, noenv)
	}()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no telemetry within 10s")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}

	out.Reset()
	args := []string{"--broker", "tcp://" + broker.Addr, "--devices", "50", "--rate", "10", "--connections", "2", "--load", "500ms"}
	if code := run(context.Background(), args, &out, &errb, noenv); code != 0 || !strings.Contains(out.String(), "achieved") {
		t.Fatalf("load: exit %d, %s %s", code, out.String(), errb.String())
	}
	t.Log(out.String())
}
