package mqtt

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Password hashes are mosquitto's own ($7$: PBKDF2-SHA512), so that one
// password file serves the embedded broker and mosquitto alike:
//
//	$7$<iterations>$<salt, base64>$<hash, base64>
//
// mosquitto_passwd writes them (with 101 iterations); HashPassword (and
// `caretaker hash-password`) writes them with HashIterations.
const (
	hashPrefix = "$7$"
	// HashIterations is what HashPassword uses: slow enough to make a
	// stolen configuration costly to crack (device passwords should be
	// random anyway: hash-password --generate); a reconnecting device is
	// checked against the broker's memory of its last good login, not
	// hashed again.
	HashIterations = 10000
	saltLen        = 12
	hashLen        = sha512.Size
)

// HashPassword hashes a password for mqtt.users[].password_hash.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	return hashWith(password, salt, HashIterations)
}

func hashWith(password string, salt []byte, iterations int) (string, error) {
	key, err := pbkdf2.Key(sha512.New, password, salt, iterations, hashLen)
	if err != nil {
		return "", fmt.Errorf("password hash: %w", err)
	}
	return hashPrefix + strconv.Itoa(iterations) + "$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(key), nil
}

// passwordHash is a parsed $7$ hash.
type passwordHash struct {
	iterations int
	salt, key  []byte
}

// parseHash reads a $7$ hash; the error says what is wrong with it
// (never the hash itself).
func parseHash(s string) (passwordHash, error) {
	rest, ok := strings.CutPrefix(s, hashPrefix)
	if !ok {
		return passwordHash{}, errors.New("not a $7$ hash (PBKDF2-SHA512, as mosquitto_passwd or caretaker hash-password write it)")
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return passwordHash{}, errors.New("a $7$ hash is $7$<iterations>$<salt>$<hash>")
	}
	it, err := strconv.Atoi(parts[0])
	if err != nil || it < 1 || it > 10_000_000 {
		return passwordHash{}, errors.New("the iteration count is not a number from 1 to 10000000")
	}
	salt, err := base64.StdEncoding.DecodeString(parts[1])
	if err != nil || len(salt) == 0 {
		return passwordHash{}, errors.New("the salt is not base64")
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != hashLen {
		return passwordHash{}, errors.New("the hash is not 64 bytes of base64")
	}
	return passwordHash{iterations: it, salt: salt, key: key}, nil
}

// matches tells, in constant time for a given hash, whether password is
// the one hashed.
func (h passwordHash) matches(password []byte) bool {
	key, err := pbkdf2.Key(sha512.New, string(password), h.salt, h.iterations, hashLen)
	return err == nil && subtle.ConstantTimeCompare(key, h.key) == 1
}
