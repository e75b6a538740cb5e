package main

import (
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// The clients registered at the embedded issuer's token endpoint: one for
// plain tokens, one whose tokens carry a fresh MFA login (for /api/mfa) and
// one whose tokens carry a money_transfer authorization detail (for
// /api/transfers).
const (
	exampleClientID         = "example-client"
	exampleMFAClientID      = "example-mfa-client"
	exampleTransferClientID = "example-transfer-client"
)

// transferAmount is what the printed /api/transfers command asks for, and
// what the example-transfer-client's authorization detail covers.
const transferAmount = "100.00"

// Token kinds, by how the token is bound.
const (
	kindBearer = "bearer"
	kindDPoP   = "dpop"
	kindMTLS   = "mtls"
)

// accepts reports whether the API, as configured, accepts a token of kind
// (the policy table of the middleware package documentation).
func accepts(o *options, kind string) bool {
	switch {
	case o.mechanism == "mtls":
		return kind == kindMTLS
	case o.mechanism == "dpop" && o.required:
		return kind == kindDPoP
	}
	return true
}

// refusal labels a printed command for a token of kind that the API
// refuses, as a thing to try.
func refusal(o *options, kind string) string {
	required := "DPoP-bound"
	if o.mechanism == "mtls" {
		required = "certificate-bound"
	}
	if kind == kindBearer {
		return fmt.Sprintf(" (refused here, as a stolen token sent as Bearer would be; this API requires %s tokens)", required)
	}
	return fmt.Sprintf(" (refused here; this API requires %s tokens)", required)
}

// loginNow is the auth_time of the MFA client's tokens: the time each is
// issued, as if its user had just logged in with MFA.
type loginNow struct{}

func (loginNow) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, time.Now().Unix(), 10), nil
}

// mfaClaims are the claims of a recent MFA login (RFC 9470; Auth0's acr).
func mfaClaims(authTime any) map[string]any {
	return map[string]any{"acr": middleware.ACRAuth0MFA, "amr": []string{"mfa"}, "auth_time": authTime}
}

// transferClaims carry an RFC 9396 money_transfer authorization detail that
// covers transferAmount EUR.
func transferClaims() map[string]any {
	return map[string]any{"authorization_details": []any{map[string]any{
		"type":             "money_transfer",
		"instructedAmount": map[string]any{"currency": "EUR", "amount": transferAmount},
	}}}
}

// printTokenCommands registers clients at the embedded issuer's token
// endpoint and prints the commands that obtain a bearer, a DPoP-bound and
// a certificate-bound token with examples/client and call the API with
// each, then the commands that pass /api/mfa and /api/transfers with the
// binding the API accepts. A command the API refuses (a bearer token where
// DPoP is required, say) is labelled as a refusal to try. The
// certificate-bound one needs the API over HTTPS (-tls-self-signed, or
// -tls-cert and -tls-key); its files (a client certificate and key, and the
// CA certificates that the client must trust) are the -tls-self-signed
// ones, or written to a temporary directory that cleanup removes.
func printTokenCommands(w io.Writer, iss *oauthtest.Issuer, base string, o *options) (cleanup func(), err error) {
	secret := rand.Text()
	for _, c := range []oauthtest.Client{
		{ID: exampleClientID, Secret: secret, Token: oauthtest.Token{Scope: "read:messages"}},
		{ID: exampleMFAClientID, Secret: secret, Token: oauthtest.Token{Scope: "read:messages", Claims: mfaClaims(loginNow{})}},
		{ID: exampleTransferClientID, Secret: secret, Token: oauthtest.Token{Scope: "read:messages", Claims: transferClaims()}},
	} {
		if err := iss.RegisterClient(c); err != nil {
			return nil, err
		}
	}
	common := ""
	cleanup = func() {}
	var files clientFiles
	if strings.HasPrefix(base, "https:") {
		if files, cleanup, err = clientTLSFiles(iss, o); err != nil {
			return nil, err
		}
		common = " -ca " + files.ca
	}
	// args returns the flags and token URL that obtain a token of kind.
	args := func(kind string) (flags, tokenURL string) {
		switch kind {
		case kindDPoP:
			return common + " -dpop", iss.TokenURL()
		case kindMTLS:
			return common + " -cert " + files.cert + " -key " + files.key, iss.MTLSTokenURL()
		}
		return common, iss.TokenURL()
	}
	line := func(label, kind, id, api string) {
		if !accepts(o, kind) {
			label += refusal(o, kind)
		}
		flags, tokenURL := args(kind)
		fmt.Fprintf(w, "%s: go run ./examples/client -token-url %s -client-id %s -client-secret %s -audience %s -api %s%s\n",
			label, tokenURL, id, secret, o.audience, api, flags)
	}

	fmt.Fprintf(w, "its token endpoint issues tokens to client %s; from the repository root:\n", exampleClientID)
	line("bearer token", kindBearer, exampleClientID, base+"/api/scoped")
	line("DPoP-bound token", kindDPoP, exampleClientID, base+"/api/scoped")
	if files.cert == "" {
		fmt.Fprintf(w, "certificate-bound token: serve HTTPS (-tls-self-signed, or -tls-cert and -tls-key) to try it\n")
	} else {
		line("certificate-bound token", kindMTLS, exampleClientID, base+"/api/scoped")
	}
	// The regulated endpoints, with the first binding the API accepts
	// (certificate-bound only with -mechanism mtls, which serves HTTPS).
	kind := kindBearer
	for _, k := range []string{kindBearer, kindDPoP, kindMTLS} {
		if accepts(o, k) {
			kind = k
			break
		}
	}
	line("MFA login (acr, auth_time) for /api/mfa", kind, exampleMFAClientID, base+"/api/mfa")
	line("money_transfer authorization detail for /api/transfers", kind, exampleTransferClientID,
		"'"+base+"/api/transfers?amount="+transferAmount+"'")
	return cleanup, nil
}

// printToken tells how to call the API with tokens minted by the embedded
// issuer: a bearer token with scope read:messages, and, where the API
// accepts bearer tokens, one with a fresh MFA login for /api/mfa and one
// with a money_transfer authorization detail for /api/transfers.
func printToken(w io.Writer, iss *oauthtest.Issuer, base string, o *options) error {
	tok, err := iss.Mint(oauthtest.Token{Scope: "read:messages"})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "embedded test issuer: %s (never use it in production)\n", iss.Issuer())
	fmt.Fprintf(w, "a bearer token with scope read:messages, valid for an hour:\n")
	fmt.Fprintf(w, "TOKEN=%s\n", tok)
	insecure := ""
	if strings.HasPrefix(base, "https:") {
		insecure = "-k " // a self-signed test certificate
	}
	try := "try"
	if !accepts(o, kindBearer) {
		try = "try" + refusal(o, kindBearer)
	}
	fmt.Fprintf(w, "%s: curl %s-H \"Authorization: Bearer $TOKEN\" %s/api/scoped\n", try, insecure, base)
	if accepts(o, kindBearer) {
		mfaTok, err := iss.Mint(oauthtest.Token{Scope: "read:messages", Claims: mfaClaims(time.Now().Unix())})
		if err != nil {
			return err
		}
		transferTok, err := iss.Mint(oauthtest.Token{Scope: "read:messages", Claims: transferClaims()})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "a bearer token with an MFA login just now, for /api/mfa (for the next %d minutes):\n", int(mfaMaxAge.Minutes()))
		fmt.Fprintf(w, "MFA_TOKEN=%s\n", mfaTok)
		fmt.Fprintf(w, "try: curl %s-H \"Authorization: Bearer $MFA_TOKEN\" %s/api/mfa\n", insecure, base)
		fmt.Fprintf(w, "a bearer token with a money_transfer authorization detail of %s EUR, for /api/transfers:\n", transferAmount)
		fmt.Fprintf(w, "TRANSFER_TOKEN=%s\n", transferTok)
		fmt.Fprintf(w, "try: curl %s-H \"Authorization: Bearer $TRANSFER_TOKEN\" '%s/api/transfers?amount=%s'\n", insecure, base, transferAmount)
	}
	fmt.Fprintf(w, "(DPoP- and certificate-bound tokens: see examples/client and examples/demo)\n")
	return nil
}

// clientFiles are the PEM files of the certificate-bound path.
type clientFiles struct{ cert, key, ca string }

// clientTLSFiles returns the client certificate and key of -tls-self-signed
// or, with -tls-cert, new ones in a temporary directory that cleanup
// removes; and a CA file that trusts the issuer's mutual-TLS endpoint and
// this server.
func clientTLSFiles(iss *oauthtest.Issuer, o *options) (clientFiles, func(), error) {
	cleanup := func() {}
	var f clientFiles
	if s := o.selfSigned; s != nil {
		f = clientFiles{cert: s.clientCert, key: s.clientKey, ca: filepath.Join(s.dir, "ca.pem")}
	} else {
		dir, err := os.MkdirTemp("", "resource-server-example")
		if err != nil {
			return f, nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		f = clientFiles{cert: filepath.Join(dir, "client.pem"), key: filepath.Join(dir, "client-key.pem"), ca: filepath.Join(dir, "ca.pem")}
		if err := writeCertificate(f.cert, f.key, clientTemplate()); err != nil {
			cleanup()
			return f, nil, err
		}
	}
	serverPEM, err := os.ReadFile(o.tlsCert)
	if err == nil {
		ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: iss.ServerCertificate().Raw})
		err = os.WriteFile(f.ca, append(ca, serverPEM...), 0o600)
	}
	if err != nil {
		cleanup()
		return f, nil, err
	}
	return f, cleanup, nil
}
