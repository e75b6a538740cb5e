package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/dpop"
)

// TestClientCredentialsNeverFollowsRedirects: a token request carries the
// client's credentials (a secret, or a fresh client assertion) in its body
// and headers. A redirect, even to the same host, is never followed: it
// would send them again to wherever the redirect points, and net/http
// re-sends a 307/308 body. The answer is a token-response error instead.
func TestClientCredentialsNeverFollowsRedirects(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			leaked := make(chan string, 4)
			evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				leaked <- r.Header.Get("Authorization") + " " + string(b)
				w.WriteHeader(http.StatusInternalServerError)
			}))
			defer evil.Close()
			as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)+"/steal", status)
			}))
			defer as.Close()
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			require.NoError(t, err)
			s, err := dpop.NewSigner(key)
			require.NoError(t, err)
			for _, auth := range []clientauth.Method{clientauth.ClientSecretPost("client", "s3cret"), clientauth.ClientSecretBasic("client", "s3cret")} {
				for _, opts := range [][]dpop.ClientCredentialsOption{nil, {dpop.WithTokenHTTPClient(&http.Client{})}} {
					cc, err := dpop.NewClientCredentials(as.URL+"/token", s, auth, opts...)
					require.NoError(t, err)
					_, err = cc.Token(context.Background())
					require.ErrorIs(t, err, dpop.ErrTokenResponse)
					select {
					case l := <-leaked:
						t.Fatalf("credentials sent to the redirect target: %q", l)
					default:
					}
				}
			}
			assert.Empty(t, leaked)
		})
	}
}
