package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
)

// connector hands out pgx's connections wrapped in conn.
type connector struct{ driver.Connector }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := dc.(pgxConn)
	if !ok {
		dc.Close()
		return nil, errors.New("the PostgreSQL driver's connection lacks a method database/sql needs")
	}
	return conn{inner}, nil
}

// pgxConn is what pgx's stdlib.Conn offers database/sql.
type pgxConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
}

// conn rebinds every statement's placeholders and converts its arguments
// as database/sql does for SQLite, then hands both to pgx.
type conn struct{ pgxConn }

func (c conn) Prepare(q string) (driver.Stmt, error) {
	return c.pgxConn.PrepareContext(context.Background(), Rebind(q))
}

func (c conn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.pgxConn.PrepareContext(ctx, Rebind(q))
}

func (c conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.pgxConn.ExecContext(ctx, Rebind(q), args)
}

func (c conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.pgxConn.QueryContext(ctx, Rebind(q), args)
}

// CheckNamedValue converts an argument the way database/sql converts it for
// a driver of its own (a driver.Valuer's value, a named type's underlying
// kind, a pointer's target) and stores a bool as 0 or 1, as the SQLite
// columns hold it.
func (c conn) CheckNamedValue(nv *driver.NamedValue) error {
	v, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
	if err != nil {
		return err
	}
	if b, ok := v.(bool); ok {
		v = int64(0)
		if b {
			v = int64(1)
		}
	}
	nv.Value = v
	return nil
}
