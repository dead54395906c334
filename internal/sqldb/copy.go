package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// TableCount is how many rows a table holds.
type TableCount struct {
	Table string
	Rows  int64
}

// CopyOptions steer Copy.
type CopyOptions struct {
	// Replace empties the target's tables first; without it a target
	// table that holds rows is refused.
	Replace bool
}

// ErrNotEmpty is returned (wrapped) by Copy when the target holds rows and
// CopyOptions.Replace is not set.
var ErrNotEmpty = errors.New("the target database is not empty")

// Copy copies every table of the SQLite database from into the PostgreSQL
// database to, whose schema must already be in place (the stores'
// migrations applied to both): the columns both have, every row, in one
// transaction of to, so that a failure leaves to as it was. Migration
// records are not copied (each side keeps its own). Parents are copied
// before the tables that refer to them, and the id sequences continue
// after the copied ids. It returns the rows copied per table.
func Copy(ctx context.Context, from, to *DB, opts CopyOptions) ([]TableCount, error) {
	if from.Engine != SQLite || to.Engine != PostgreSQL {
		return nil, fmt.Errorf("copy from %s to %s: want SQLite to PostgreSQL", from.Engine, to.Engine)
	}
	src, err := sqliteTables(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	dst, err := pgColumns(ctx, to)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", to, err)
	}
	var tables []string
	for _, t := range src {
		if strings.HasSuffix(t, "_migrations") {
			continue
		}
		if _, ok := dst[t]; !ok {
			return nil, fmt.Errorf("table %s of %s is not in %s: open it with this version of caretaker first", t, from, to)
		}
		tables = append(tables, t)
	}
	order, err := parentsFirst(ctx, to, tables)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", to, err)
	}

	// One read transaction of the source (it holds SQLite's write lock, so
	// nothing changes underneath) and one write transaction of the target.
	rtx, err := from.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	defer rtx.Rollback()
	wtx, err := to.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", to, err)
	}
	defer wtx.Rollback()

	var full []string
	for _, t := range order {
		var n int64
		if err := wtx.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", to, t, err)
		}
		if n > 0 {
			full = append(full, fmt.Sprintf("%s (%d rows)", t, n))
		}
	}
	if len(full) > 0 {
		if !opts.Replace {
			return nil, fmt.Errorf("%s: %w: %s", to, ErrNotEmpty, strings.Join(full, ", "))
		}
		if _, err := wtx.ExecContext(ctx, "TRUNCATE "+strings.Join(order, ", ")); err != nil {
			return nil, fmt.Errorf("%s: empty: %w", to, err)
		}
	}

	var counts []TableCount
	for _, t := range order {
		n, err := copyTable(ctx, rtx, wtx, t, dst[t])
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", t, err)
		}
		var got int64
		if err := wtx.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&got); err != nil {
			return nil, fmt.Errorf("copy %s: %w", t, err)
		}
		if got != n {
			return nil, fmt.Errorf("copy %s: %d rows read, %d in the target", t, n, got)
		}
		counts = append(counts, TableCount{Table: t, Rows: n})
	}
	if err := resetSequences(ctx, wtx, order); err != nil {
		return nil, fmt.Errorf("%s: %w", to, err)
	}
	if err := wtx.Commit(); err != nil {
		return nil, fmt.Errorf("%s: commit: %w", to, err)
	}
	return counts, nil
}

func sqliteTables(ctx context.Context, db *DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// pgColumns returns the columns of every table of the current schema, and
// their types.
func pgColumns(ctx context.Context, db *DB) (map[string]map[string]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		var t, c, typ string
		if err := rows.Scan(&t, &c, &typ); err != nil {
			return nil, err
		}
		if out[t] == nil {
			out[t] = map[string]string{}
		}
		out[t][c] = typ
	}
	return out, rows.Err()
}

// parentsFirst orders tables so that each comes after the tables its
// foreign keys refer to (a table referring to itself is copied in row
// order: a row refers to an older one).
func parentsFirst(ctx context.Context, db *DB, tables []string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT c.relname, p.relname FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE k.contype = 'f' AND n.nspname = current_schema()`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	parents := map[string][]string{}
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			return nil, err
		}
		if child != parent {
			parents[child] = append(parents[child], parent)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Strings(tables)
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(t string) error
	visit = func(t string) error {
		switch state[t] {
		case 1:
			return fmt.Errorf("foreign keys of %s form a cycle", t)
		case 2:
			return nil
		}
		state[t] = 1
		for _, p := range parents[t] {
			if err := visit(p); err != nil {
				return err
			}
		}
		state[t] = 2
		order = append(order, t)
		return nil
	}
	for _, t := range tables {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	// Only the tables asked for (a parent outside the list stays out).
	want := map[string]bool{}
	for _, t := range tables {
		want[t] = true
	}
	out := order[:0]
	for _, t := range order {
		if want[t] {
			out = append(out, t)
		}
	}
	return out, nil
}

// copyBatch rows go in one INSERT.
const copyBatch = 200

func copyTable(ctx context.Context, rtx, wtx *sql.Tx, table string, dstCols map[string]string) (int64, error) {
	rows, err := rtx.QueryContext(ctx, "SELECT * FROM "+table+" ORDER BY rowid")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	srcCols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	var cols []string
	var keep []int
	for i, c := range srcCols {
		if _, ok := dstCols[c]; ok {
			cols = append(cols, c)
			keep = append(keep, i)
		}
	}
	placeholders := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	var n int64
	var args []any
	pending := 0
	flush := func() error {
		if pending == 0 {
			return nil
		}
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(placeholders+", ", pending), ", ")
		if _, err := wtx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		args, pending = args[:0], 0
		return nil
	}
	vals := make([]any, len(srcCols))
	ptrs := make([]any, len(srcCols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for j, i := range keep {
			v, err := asColumn(vals[i], dstCols[cols[j]])
			if err != nil {
				return n, fmt.Errorf("row %d, %s: %w", n+1, cols[j], err)
			}
			args = append(args, v)
		}
		pending++
		n++
		if pending == copyBatch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// asColumn converts a value SQLite gave (its type is the value's, not the
// column's) to what a PostgreSQL column of type typ takes.
func asColumn(v any, typ string) (any, error) {
	switch typ {
	case "double precision", "real", "numeric":
		if i, ok := v.(int64); ok {
			return float64(i), nil
		}
	case "bigint", "integer", "smallint":
		if f, ok := v.(float64); ok {
			if f != math.Trunc(f) {
				return nil, fmt.Errorf("%v is not a whole number", f)
			}
			return int64(f), nil
		}
	case "text":
		switch x := v.(type) {
		case []byte:
			return string(x), nil
		case int64, float64:
			return fmt.Sprint(x), nil
		}
	}
	return v, nil
}

// resetSequences makes every id sequence of tables continue after the
// largest id copied.
func resetSequences(ctx context.Context, tx *sql.Tx, tables []string) error {
	for _, t := range tables {
		rows, err := tx.QueryContext(ctx, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = ? AND column_default LIKE 'nextval(%'`, t)
		if err != nil {
			return err
		}
		cols, err := scanStrings(rows)
		if err != nil {
			return err
		}
		for _, c := range cols {
			if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max(`+c+`), 0) + 1, false) FROM `+t, t, c); err != nil {
				return fmt.Errorf("sequence of %s.%s: %w", t, c, err)
			}
		}
	}
	return nil
}
