package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/caretaker-iot/caretaker/ingest/mqtt"
)

// hashPasswordCmd reads a password on stdin (never from the command line,
// where ps would show it) and prints its $7$ hash for
// mqtt.users[].password_hash, or a mosquitto password file line with
// --user. With --generate it makes a random password and prints it first.
func hashPasswordCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hash-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	generate := fs.Bool("generate", false, "make a random password, print it, then its hash")
	user := fs.String("user", "", "print a mosquitto password file line, USER:HASH")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: caretaker hash-password [--generate] [--user NAME] < password

Prints the $7$ (PBKDF2-SHA512) hash of the password read on stdin, for
mqtt.users[].password_hash; mosquitto takes the same hashes in its
password_file (--user NAME prints such a line).

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var password string
	if *generate {
		password = randomToken()
		fmt.Fprintf(stdout, "password: %s\n", password)
	} else {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("read the password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return usageError{"hash-password reads the password on stdin: none given"}
		}
	}
	h, err := mqtt.HashPassword(password)
	if err != nil {
		return err
	}
	if *user != "" {
		fmt.Fprintf(stdout, "%s:%s\n", *user, h)
		return nil
	}
	if *generate {
		fmt.Fprint(stdout, "hash: ")
	}
	fmt.Fprintln(stdout, h)
	return nil
}
