// Command quickstart is an API that accepts OAuth 2.0 access tokens from
// one issuer: bearer tokens, and DPoP-bound or certificate-bound tokens
// with their proofs. Put your tenant, API and address below, then
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
)

var (
	issuer   = "https://YOUR_TENANT.auth0.com/" // exactly the tokens' iss (Auth0: with the trailing slash)
	audience = "https://api.example.com"        // your API's identifier
	// The URL clients call. A DPoP proof names it (htu); if this differs
	// (another host, port or scheme), DPoP requests get 401
	// invalid_dpop_proof and the log says computed_htu=<this URL + path>.
	publicURL = "http://localhost:8080"
	addr      = "localhost:8080"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)) // Info and above

	// The start-up context bounds only the first key load; the keys keep
	// refreshing in the background until Close.
	startup, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := jwks.New(startup, jwks.WithIssuer(issuer), jwks.WithLogger(logger))
	if err != nil {
		logger.Error("bad key configuration", "err", err)
		os.Exit(1)
	}
	defer keys.Close()
	if err := keys.Ready(startup); err != nil {
		// Serve anyway: this issuer's tokens get 503 until its keys load.
		logger.Warn("issuer keys not loaded yet", "err", err)
	}

	guard, err := middleware.New(keys,
		middleware.WithAudience(audience),
		middleware.WithPublicURL(publicURL),
		middleware.WithLogger(logger)) // one line per rejected request, with the reason
	if err != nil {
		logger.Error("bad guard configuration", "err", err)
		os.Exit(1)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /api/me", guard.Handler(http.HandlerFunc(me)))
	mux.Handle("GET /api/messages", guard.Handler(guard.RequireScopes("read:messages")(http.HandlerFunc(messages))))
	logger.Info("listening", "addr", addr, "public_url", publicURL)
	if err := http.ListenAndServe(addr, mux); err != nil {
		logger.Error("server stopped", "err", err)
		os.Exit(1)
	}
}

func me(w http.ResponseWriter, r *http.Request) {
	claims, _ := middleware.ClaimsFromContext(r.Context()) // always there behind guard.Handler
	fmt.Fprintf(w, "hello %s\n", claims.Subject())
}

func messages(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, `["hello"]`)
}
