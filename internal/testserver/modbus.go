package testserver

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// ModbusUnit is the preset content of one unit of the Modbus test server.
type ModbusUnit struct {
	Holding  map[uint16]uint16
	Input    map[uint16]uint16
	Coils    map[uint16]bool
	Discrete map[uint16]bool
}

// ModbusServer starts Debian's python3-pymodbus as a Modbus TCP server on a
// free loopback port, an implementation independent of ours. Each unit id
// of units answers with its preset registers (all others read 0); a unit id
// not in units gets no answer at all, as a dead slave behind a gateway.
func ModbusServer(t testing.TB, units map[byte]ModbusUnit) *Process {
	t.Helper()
	py := pymodbusPython(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "server.py")
	if err := os.WriteFile(script, []byte(pymodbusScript), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := map[string]map[string]map[string]any{}
	for id, u := range units {
		s := map[string]map[string]any{"hr": {}, "ir": {}, "co": {}, "di": {}}
		for a, v := range u.Holding {
			s["hr"][strconv.Itoa(int(a))] = v
		}
		for a, v := range u.Input {
			s["ir"][strconv.Itoa(int(a))] = v
		}
		for a, v := range u.Coils {
			s["co"][strconv.Itoa(int(a))] = v
		}
		for a, v := range u.Discrete {
			s["di"][strconv.Itoa(int(a))] = v
		}
		spec[strconv.Itoa(int(id))] = s
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	specFile := filepath.Join(dir, "units.json")
	if err := os.WriteFile(specFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	p := start(t, "pymodbus", fmt.Sprintf("127.0.0.1:%d", port), py, script, strconv.Itoa(port), specFile)
	waitTCP(t, p, 15*time.Second)
	return p
}

// pymodbusPython finds a Python that can import pymodbus: Debian's own
// /usr/bin/python3 first, since a pyenv or venv python3 earlier on PATH
// does not see Debian's packages.
func pymodbusPython(t testing.TB) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import pymodbus.server").Run() == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("python3-pymodbus not installed: the test script must install it")
	}
	t.Skipf("python3-pymodbus not installed; run ./scripts/test to install it")
	return ""
}

// pymodbusScript serves the units of a JSON file (pymodbus 3.0 API). Unit
// ids not in the file get no answer (ignore_missing_slaves).
const pymodbusScript = `
import json, logging, sys
from pymodbus.server import StartTcpServer
from pymodbus.datastore import ModbusSlaveContext, ModbusServerContext, ModbusSequentialDataBlock

logging.basicConfig(level=logging.CRITICAL)
port = int(sys.argv[1])
with open(sys.argv[2]) as f:
    spec = json.load(f)

def block(values, size=1024):
    data = [0] * size
    for addr, v in values.items():
        data[int(addr)] = int(v)
    return ModbusSequentialDataBlock(0, data)

slaves = {}
for unit, tables in spec.items():
    slaves[int(unit)] = ModbusSlaveContext(
        hr=block(tables["hr"]), ir=block(tables["ir"]),
        co=block(tables["co"]), di=block(tables["di"]), zero_mode=True)
context = ModbusServerContext(slaves=slaves, single=False)
print("pymodbus listening on", port, flush=True)
StartTcpServer(context=context, address=("127.0.0.1", port), ignore_missing_slaves=True)
`
