package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/caretaker-iot/caretaker/dashboard"
)

// exampleTokenMark is in every token of caretaker.example.yaml (and the
// docs): a configuration copied from there must get its own tokens
// before it serves anyone.
const exampleTokenMark = "change-me"

// refuseExampleTokens names the first token that is an example one. The
// demo makes its own tokens and never gets here.
func refuseExampleTokens(tokens []dashboard.Token) error {
	for i, t := range tokens {
		if strings.Contains(strings.ToLower(t.Token), exampleTokenMark) {
			return &ConfigError{Key: fmt.Sprintf("auth.tokens[%d].token", i),
				Msg: "is an example token from caretaker.example.yaml; make your own (head -c 16 /dev/urandom | xxd -p) or give its token_sha256"}
		}
	}
	return nil
}

// reloadTokensOnHUP reads the configuration file again at every signal
// on hup and gives the running server its auth.tokens: a removed token is
// refused from then on, a new one accepted, without a restart. A file
// that does not load (or holds an example token) changes nothing; the
// error is logged with the key at fault, never a token.
func reloadTokensOnHUP(ctx context.Context, hup <-chan os.Signal, path string, env []string, set func([]dashboard.Token) error, logger *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		cfg, err := LoadConfig(path, env)
		if err == nil {
			err = refuseExampleTokens(cfg.Auth.Tokens)
		}
		if err == nil {
			err = set(cfg.Auth.Tokens)
		}
		if err != nil {
			logger.Error("SIGHUP: tokens not reloaded, the old ones stay", "config", path, "err", err)
			continue
		}
		logger.Info("SIGHUP: tokens reloaded", "config", path, "tokens", len(cfg.Auth.Tokens))
	}
}
