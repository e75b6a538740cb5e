// Command connect shows a Connect (connectrpc.com/connect) service protected
// by senderbound. Connect handlers are net/http handlers, so the plain
// Guard.Handler protects them, and a Connect client sends DPoP-bound tokens
// through dpop.Transport: the proof's htm is POST and its htu the
// procedure's URL, the same convention grpcguard uses for gRPC. It exits 0
// only when every call behaved as expected.
//
//	go run ./examples/connect
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "connect example:", err)
		os.Exit(1)
	}
}

// greet is the one procedure: it takes a name and greets the verified
// subject. Well-known protobuf types stand in for generated messages.
const greet = "/greet.v1.GreetService/Greet"

func run(ctx context.Context, out io.Writer) error {
	iss, err := oauthtest.NewIssuer()
	if err != nil {
		return err
	}
	defer iss.Close()
	keys, err := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		return err
	}
	defer keys.Close()
	// The server listens before the guard is built, so that the guard
	// knows the URL its clients call (the htu of their DPoP proofs).
	srv := httptest.NewUnstartedServer(nil)
	defer srv.Close()
	guard, err := middleware.New(keys,
		middleware.WithAudience(iss.Audience()),
		middleware.WithProofOfPossession(middleware.MechanismDPoP, true),
		middleware.WithPublicURL("https://"+srv.Listener.Addr().String()))
	if err != nil {
		return err
	}

	// The service: a Connect handler behind Guard.Handler and a scope.
	mux := http.NewServeMux()
	mux.Handle(greet, guard.Handler(guard.RequireScopes("greet")(connect.NewUnaryHandler(greet,
		func(ctx context.Context, req *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
			claims, _ := middleware.ClaimsFromContext(ctx)
			return connect.NewResponse(wrapperspb.String(fmt.Sprintf("hello %s, from %s", req.Msg.GetValue(), claims.Subject()))), nil
		}))))
	srv.Config.Handler = mux
	srv.EnableHTTP2 = true
	srv.StartTLS()

	alice, err := newSigner()
	if err != nil {
		return err
	}
	thief, err := newSigner()
	if err != nil {
		return err
	}
	token, err := iss.Mint(oauthtest.Token{Subject: "alice", Scope: "greet", JKT: alice.Thumbprint()})
	if err != nil {
		return err
	}
	noScope, err := iss.Mint(oauthtest.Token{Subject: "alice", Scope: "profile", JKT: alice.Thumbprint()})
	if err != nil {
		return err
	}
	// Connect reports an HTTP 401 or 403 as a code; the challenge that says
	// why is on the wire, where a tap shows it.
	wire := &tap{base: srv.Client().Transport}
	client := func(signer *dpop.Signer, token string) *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue] {
		hc := &http.Client{Transport: &dpop.Transport{Base: wire, Signer: signer, Source: dpop.StaticToken(token)}}
		return connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](hc, srv.URL+greet)
	}

	steps := []struct {
		title  string
		client *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue]
		want   connect.Code // 0: success
	}{
		{"Alice's DPoP-bound token and proof", client(alice, token), 0},
		{"Alice's token stolen, with the thief's proof", client(thief, token), connect.CodeUnauthenticated},
		{"A token without the scope greet", client(alice, noScope), connect.CodePermissionDenied},
	}
	var failed int
	for i, s := range steps {
		fmt.Fprintf(out, "%d. %s\n", i+1, s.title)
		resp, err := s.client.CallUnary(ctx, connect.NewRequest(wrapperspb.String("world")))
		got := connect.Code(0)
		if err != nil {
			if got = connect.CodeOf(err); got == connect.CodeUnknown {
				return fmt.Errorf("step %d: %w", i+1, err)
			}
			fmt.Fprintf(out, "   -> %v; WWW-Authenticate: %q\n", got, wire.challenges)
		} else {
			fmt.Fprintf(out, "   -> %q\n", resp.Msg.GetValue())
		}
		if got != s.want {
			failed++
			fmt.Fprintf(out, "   UNEXPECTED: %v, want %v\n", got, s.want)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d steps misbehaved", failed, len(steps))
	}
	fmt.Fprintf(out, "all %d steps behaved as expected\n", len(steps))
	return nil
}

// tap is an http.RoundTripper that keeps the challenges of the last answer.
type tap struct {
	base       http.RoundTripper
	challenges []string
}

func (t *tap) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err == nil {
		t.challenges = resp.Header.Values("WWW-Authenticate")
	}
	return resp, err
}

func newSigner() (*dpop.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return dpop.NewSigner(key)
}
