package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/caretaker-iot/caretaker/internal/sqldb"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

const migrateUsage = `Usage: caretaker migrate --from data/caretaker.db --to postgres://user@host:5432/dbname [--replace]

Copies the records of a SQLite store (store.path: tickets, alarms, deadlines,
history, reports, photo records, the paging outbox, rule versions, services
and the rule state) into a PostgreSQL database (store.url), in one
transaction: it is all copied or nothing is. Stop caretaker first. Both
stores are brought to this version's schema, then every table is copied and
its rows counted; a target that already holds records is refused unless
--replace is given, which empties it first. Readings and photo files are not
copied (they stay where store.readings_path, InfluxDB and store.photos_dir
keep them). Put the password in PGPASSWORD or ~/.pgpass rather than in --to.

Flags:
`

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the SQLite file to copy (store.path), e.g. data/caretaker.db")
	to := fs.String("to", "", "the PostgreSQL database to copy into (store.url), postgres://user@host:5432/dbname")
	replace := fs.Bool("replace", false, "empty the target's tables first if they hold records")
	fs.Usage = func() {
		fmt.Fprint(stderr, migrateUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *from == "" || *to == "":
		return usageError{"migrate needs --from FILE and --to postgres://..."}
	case strings.ContainsAny(*from, "?#"):
		return usageError{"--from: a file path without ? or #"}
	}
	if _, err := sqldb.CheckURL(*to); err != nil {
		return usageError{"--to: " + err.Error()}
	}
	if _, err := os.Stat(*from); err != nil {
		return fmt.Errorf("--from: %w", err) // never create an empty source
	}
	counts, err := migrateStore(ctx, *from, *to, sqldb.CopyOptions{Replace: *replace})
	if err != nil {
		if errors.Is(err, sqldb.ErrNotEmpty) {
			return fmt.Errorf("%w (nothing was copied; --replace empties it first)", err)
		}
		return err
	}
	var total int64
	fmt.Fprintf(stdout, "copied %s to %s:\n", *from, redactURL(*to))
	for _, c := range counts {
		fmt.Fprintf(stdout, "  %-24s %9d\n", c.Table, c.Rows)
		total += c.Rows
	}
	fmt.Fprintf(stdout, "%d rows in %d tables\n", total, len(counts))
	return nil
}

// migrateStore brings both stores to this version's schema (opening the
// ticket service and the rule store on each applies their migrations),
// then copies every table.
func migrateStore(ctx context.Context, from, to string, opts sqldb.CopyOptions) ([]sqldb.TableCount, error) {
	for _, where := range []struct{ path, url, name string }{{from, "", from}, {"", to, redactURL(to)}} {
		tickets, err := ticketing.Open(ctx, ticketing.Config{Path: where.path, URL: where.url})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where.name, err)
		}
		tickets.Close()
		st, err := rules.OpenStore(ctx, rules.StoreConfig{Path: where.path, URL: where.url})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where.name, err)
		}
		st.Close()
	}
	src, err := sqldb.Open(ctx, sqldb.Config{Path: from})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dst, err := sqldb.Open(ctx, sqldb.Config{URL: to})
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	return sqldb.Copy(ctx, src, dst, opts)
}
