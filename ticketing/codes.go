package ticketing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
)

// A verification code is stored as "sha256:<salt>:<digest>", the digest
// of a random salt and the code, never in clear: a copy of the database
// shows no code to read out. (Six digits are few: whoever holds the file
// can still try them all offline; the file is its owner's only, 0600.)
// The code itself is handed out once, in the answer that issued it and in
// the reporter's first message queued in the same transaction.
const codeHashPrefix = "sha256:"

// hashCode is the stored form of code, with a new random salt.
func hashCode(code string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("verification code salt: %w", err)
	}
	return codeHashPrefix + hex.EncodeToString(salt) + ":" + digestCode(salt, code), nil
}

func digestCode(salt []byte, code string) string {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(code))
	return hex.EncodeToString(h.Sum(nil))
}

// codeMatches compares given with the stored code in constant time; an
// empty stored code matches nothing.
func codeMatches(stored, given string) bool {
	rest, hashed := strings.CutPrefix(stored, codeHashPrefix)
	if !hashed {
		return stored != "" && subtle.ConstantTimeCompare([]byte(stored), []byte(given)) == 1
	}
	saltHex, digest, ok := strings.Cut(rest, ":")
	salt, err := hex.DecodeString(saltHex)
	if !ok || err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(digestCode(salt, given)), []byte(digest)) == 1
}

// issuedCode is a code issued in the current transaction: its stored
// form and the code, for the reporter's first message.
type issuedCode struct{ stored, code string }

type issuedCodeKey struct{}

// withIssuedCode lets the pages queued under ctx tell the code of the
// ticket whose stored code is stored.
func withIssuedCode(ctx context.Context, stored, code string) context.Context {
	return context.WithValue(ctx, issuedCodeKey{}, issuedCode{stored, code})
}

// clearCode is the code in clear of the ticket whose stored code is
// stored, when it was issued under ctx; "" otherwise.
func clearCode(ctx context.Context, stored string) string {
	ic, ok := ctx.Value(issuedCodeKey{}).(issuedCode)
	if !ok || stored == "" || ic.stored != stored {
		return ""
	}
	return ic.code
}

// hashStoredCodes replaces the codes a store from before hashing keeps in
// clear by their stored form; run at every open, it finds none the
// second time.
func hashStoredCodes(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "SELECT id, verification_code FROM tickets WHERE verification_code <> '' AND verification_code NOT LIKE 'sha256:%'")
	if err != nil {
		return fmt.Errorf("hash verification codes: %w", err)
	}
	type clear struct {
		id   int64
		code string
	}
	var todo []clear
	for rows.Next() {
		var c clear
		if err := rows.Scan(&c.id, &c.code); err != nil {
			rows.Close()
			return fmt.Errorf("hash verification codes: %w", err)
		}
		todo = append(todo, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("hash verification codes: %w", err)
	}
	for _, c := range todo {
		h, err := hashCode(c.code)
		if err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, "UPDATE tickets SET verification_code = ? WHERE id = ? AND verification_code = ?", h, c.id, c.code); err != nil {
			return fmt.Errorf("hash verification code of ticket %d: %w", c.id, err)
		}
	}
	return nil
}
