package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/caretaker-iot/caretaker/dashboard"
	"github.com/caretaker-iot/caretaker/notify"
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

// peopleSites gives a person who names no sites the sites of the API
// token of the same name, if that token is limited to sites: a project
// manager who sees only their estates is paged only for them.
func peopleSites(people []notify.Person, tokens []dashboard.Token) []notify.Person {
	sites := map[string][]string{}
	for _, t := range tokens {
		if len(t.Sites) > 0 {
			sites[t.Name] = t.Sites
		}
	}
	out := make([]notify.Person, len(people))
	for i, p := range people {
		if len(p.Sites) == 0 {
			p.Sites = sites[p.Name]
		}
		out[i] = p
	}
	return out
}
