package testserver

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
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
	script, specFile := pymodbusFiles(t, units)
	port := FreePort(t)
	p := start(t, "pymodbus", fmt.Sprintf("127.0.0.1:%d", port), py, script, "tcp", strconv.Itoa(port), specFile)
	waitTCP(t, p, 15*time.Second)
	return p
}

// ModbusRTUServer starts python3-pymodbus as a Modbus RTU server (RTU
// framing, 8N1 at baud) on one end of a pseudo-terminal pair made by
// Debian's socat; the returned Process's Addr is the path of the other end,
// a serial line to open as the master would open /dev/ttyUSB0. Units answer
// as in ModbusServer; a unit id not in units gets no answer at all.
func ModbusRTUServer(t testing.TB, baud int, units map[byte]ModbusUnit) *Process {
	t.Helper()
	py := pymodbusPython(t)
	socat := Binary(t, "socat")
	script, specFile := pymodbusFiles(t, units)
	// A short folder of its own: the links are the serial device paths.
	dir, err := os.MkdirTemp("", "rtu")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	master, slave := filepath.Join(dir, "master"), filepath.Join(dir, "slave")
	start(t, "socat", master, socat, "-d", "-d",
		"pty,raw,echo=0,link="+master, "pty,raw,echo=0,link="+slave)
	testkit.Eventually(t, 10*time.Second, "socat's pseudo-terminals", func() bool {
		_, err1 := os.Stat(master)
		_, err2 := os.Stat(slave)
		return err1 == nil && err2 == nil
	})
	p := start(t, "pymodbus-rtu", master, py, script, "rtu", slave, specFile, strconv.Itoa(baud))
	testkit.Eventually(t, 15*time.Second, "pymodbus serving "+slave, func() bool {
		return strings.Contains(p.Output(), "pymodbus serving")
	})
	return p
}

// pymodbusFiles writes the server script and the units' registers as JSON
// into a temporary folder.
func pymodbusFiles(t testing.TB, units map[byte]ModbusUnit) (script, specFile string) {
	t.Helper()
	dir := t.TempDir()
	script = filepath.Join(dir, "server.py")
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
	specFile = filepath.Join(dir, "units.json")
	if err := os.WriteFile(specFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return script, specFile
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

// pymodbusScript serves the units of a JSON file (pymodbus 3.0 API), over
// TCP (argv: tcp port spec) or RTU on a serial device (argv: rtu device
// spec baud). Each table spans the whole address space, 0 to 65535. Unit
// ids not in the file get no answer (ignore_missing_slaves; over RTU the
// framer drops frames to other units).
const pymodbusScript = `
import asyncio, json, logging, sys
from pymodbus.server import StartTcpServer, StartAsyncSerialServer
from pymodbus.datastore import ModbusSlaveContext, ModbusServerContext, ModbusSequentialDataBlock
from pymodbus.transaction import ModbusRtuFramer

logging.basicConfig(level=logging.CRITICAL)
mode, where = sys.argv[1], sys.argv[2]
with open(sys.argv[3]) as f:
    spec = json.load(f)

def block(values, size=65536):
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

if mode == "tcp":
    port = int(where)
    print("pymodbus listening on", port, flush=True)
    StartTcpServer(context=context, address=("127.0.0.1", port), ignore_missing_slaves=True)
else:
    async def serve():
        server = await StartAsyncSerialServer(context=context, framer=ModbusRtuFramer, port=where,
            baudrate=int(sys.argv[4]), bytesize=8, parity="N", stopbits=1,
            ignore_missing_slaves=True, defer_start=True)
        await server.start()
        if server.transport is None:
            sys.exit("pymodbus could not open " + where)
        print("pymodbus serving", where, flush=True)
        await server.serve_forever()
    asyncio.run(serve())
`
