// Command nethttp protects a plain net/http API with senderbound: one Guard,
// http.ServeMux patterns, and a scope per route. Run it with
//
//	go run ./examples/nethttp
//
// It starts an embedded test issuer, serves the API on loopback, calls it a
// few times, prints what happened and exits (0 when all went as expected).
// newAPI is the part to copy.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// newAPI builds the API: /healthz is public, GET /api/me needs any valid
// token, GET /api/messages needs read:messages and POST /api/messages needs
// write:messages (in scope, or in Auth0's permissions). publicURL is the
// URL its clients call: the htu that a DPoP-bound token's proofs must name.
func newAPI(keys *jwks.Keys, audience, publicURL string) (http.Handler, error) {
	guard, err := middleware.New(keys, middleware.WithAudience(audience), middleware.WithPublicURL(publicURL))
	if err != nil {
		return nil, err
	}
	read := guard.RequireScopes("read:messages")
	write := guard.RequireScopes("write:messages")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /api/me", guard.Handler(http.HandlerFunc(me)))
	mux.Handle("GET /api/messages", guard.Handler(read(http.HandlerFunc(listMessages))))
	mux.Handle("POST /api/messages", guard.Handler(write(http.HandlerFunc(postMessage))))
	return mux, nil
}

func me(w http.ResponseWriter, r *http.Request) {
	claims, _ := middleware.ClaimsFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sub":    claims.Subject(),
		"client": claims.ClientID(),
		"scopes": claims.Scopes(),
	})
}

func listMessages(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, `["hello"]`)
}

func postMessage(w http.ResponseWriter, r *http.Request) {
	claims, _ := middleware.ClaimsFromContext(r.Context())
	fmt.Fprintf(w, "stored a message from %s\n", claims.Subject())
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "nethttp:", err)
		os.Exit(1)
	}
}

// run serves the API against an embedded issuer and calls it.
func run(ctx context.Context, out io.Writer) error {
	iss, err := oauthtest.NewIssuer() // test-only: use your tenant's issuer URL
	if err != nil {
		return err
	}
	defer iss.Close()
	keys, err := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		return err
	}
	defer keys.Close()
	srv := httptest.NewUnstartedServer(nil) // listening: its URL is known
	defer srv.Close()
	api, err := newAPI(keys, "https://api.example.com", "http://"+srv.Listener.Addr().String())
	if err != nil {
		return err
	}
	srv.Config.Handler = api
	srv.Start()

	reader, err := iss.Mint(oauthtest.Token{Subject: "reader", Scope: "read:messages"})
	if err != nil {
		return err
	}
	writer, err := iss.Mint(oauthtest.Token{Subject: "writer", Permissions: []string{"read:messages", "write:messages"}})
	if err != nil {
		return err
	}
	calls := []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/healthz", "", http.StatusOK},
		{"GET", "/api/me", "", http.StatusUnauthorized},
		{"GET", "/api/me", reader, http.StatusOK},
		{"GET", "/api/messages", reader, http.StatusOK},
		{"POST", "/api/messages", reader, http.StatusForbidden},
		{"POST", "/api/messages", writer, http.StatusOK},
	}
	var wrong int
	for _, c := range calls {
		req, err := http.NewRequestWithContext(ctx, c.method, srv.URL+c.path, strings.NewReader("hi"))
		if err != nil {
			return err
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		verdict := "ok"
		if resp.StatusCode != c.want {
			verdict, wrong = fmt.Sprintf("UNEXPECTED, want %d", c.want), wrong+1
		}
		fmt.Fprintf(out, "%-4s %-13s -> %d %s  %s\n", c.method, c.path, resp.StatusCode, strings.TrimSpace(string(body)), verdict)
		if ch := resp.Header.Values("WWW-Authenticate"); len(ch) > 0 {
			fmt.Fprintf(out, "     WWW-Authenticate: %s\n", strings.Join(ch, ", "))
		}
	}
	if wrong > 0 {
		return fmt.Errorf("%d calls answered unexpectedly", wrong)
	}
	return nil
}
