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
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

// Version information, set at build time with
// -ldflags "-X main.version=1.2.3 -X main.commit=abc".
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(code)
}

const usage = `caretaker turns building sensors into repair work that gets done.

Usage:
  caretaker serve --config caretaker.yaml   run the service
  caretaker backtest --config F --rule ID --from T [--to T] [--set key=value ...]
                                            replay stored history through a rule
  caretaker demo [flags]                    everything on one machine: embedded broker and
                                            stores, a simulated estate, the dashboard
  caretaker migrate --from data/caretaker.db --to postgres://...
                                            copy the SQLite store into PostgreSQL
  caretaker hash-password [--user NAME] < password
                                            the hash of an MQTT password, for mqtt.users
                                            (and mosquitto's password_file)
  caretaker version                         version, commit, Go version

Every configuration key can be overridden by an environment variable
CARETAKER_<PATH_IN_UPPER_SNAKE>, e.g. CARETAKER_INFLUX_URL. See docs/configuration.md.

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad configuration.
`

// usageError is a bad command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serveCmd(ctx, args[1:], stdout, stderr, env)
	case "backtest":
		err = backtestCmd(ctx, args[1:], stdout, stderr, env)
	case "demo":
		err = demoCmd(ctx, args[1:], stdout, stderr, env)
	case "migrate":
		err = migrateCmd(ctx, args[1:], stdout, stderr)
	case "hash-password":
		err = hashPasswordCmd(args[1:], os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionLine())
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError{fmt.Sprintf("unknown command %q (want serve, backtest, demo, migrate, hash-password or version)", args[0])}
	}
	var ue usageError
	var ce *ConfigError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "caretaker: %v\n", err)
		fmt.Fprint(stderr, "run 'caretaker help' for usage\n")
		return 2
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "caretaker: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "caretaker: %v\n", err)
		return 1
	}
}

func versionLine() string {
	c := commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("caretaker %s (commit %s, %s %s/%s)", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML); CARETAKER_* variables override it")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: caretaker serve --config caretaker.yaml\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return usageError{"serve needs --config FILE"}
	}
	// SIGHUP reloads the tokens; caught from the start, so that one sent
	// while starting does not end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg, err := LoadConfig(*path, env)
	if err != nil {
		return err
	}
	if err := refuseExampleTokens(cfg.Auth.Tokens); err != nil {
		return err
	}
	logger, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	return serve(ctx, cfg, logger, func(st started) {
		go reloadTokensOnHUP(ctx, hup, *path, env, st.SetTokens, logger)
	})
}

// parseFlags parses a command's flags: --help is not an error (exit 0), a
// bad flag or a stray argument is a usage error (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments, got %q", fs.Name(), strings.Join(fs.Args(), " "))}
	}
	return nil
}

func newLogger(c LogConfig, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, &ConfigError{Key: "log.level", Msg: fmt.Sprintf("%q is not debug, info, warn or error", c.Level)}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch c.Format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, &ConfigError{Key: "log.format", Msg: fmt.Sprintf("%q is not text or json", c.Format)}
	}
}
