package dpop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nonceServer is a resource server that demands nonces, verifying proofs
// with a Verifier, and echoes request bodies.
type nonceServer struct {
	*httptest.Server
	hits atomic.Int32
}

func newNonceServer(t *testing.T, clock *fakeClock) *nonceServer {
	t.Helper()
	nonces, err := NewHMACNonces([][]byte{bytes.Repeat([]byte{7}, 32)}, WithNonceClock(clock.Now))
	require.NoError(t, err)
	v := newTestVerifier(t, clock, WithNonces(nonces))
	s := &nonceServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP ")
		if !ok || len(r.Header.Values("DPoP")) != 1 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		p, err := v.Verify(r.Context(), r.Header.Get("DPoP"), Request{Method: r.Method, URL: URLResolver{}.URL(r), AccessToken: token})
		switch {
		case errors.Is(err, ErrNonce):
			n, _ := v.Nonce()
			w.Header().Set("DPoP-Nonce", n)
			w.Header().Set("WWW-Authenticate", `Bearer realm="api", DPoP algs="ES256", error="use_dpop_nonce", error_description="nonce required"`)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "need a nonce")
			return
		case err != nil:
			w.Header().Set("WWW-Authenticate", `DPoP error="invalid_dpop_proof"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if p.NextNonce != "" {
			w.Header().Set("DPoP-Nonce", p.NextNonce)
		}
		io.Copy(w, r.Body)
	}))
	t.Cleanup(s.Close)
	return s
}

func newTestTransport(t *testing.T, clock *fakeClock) *Transport {
	t.Helper()
	testKeys(t)
	s, err := NewSigner(ecKey, WithSignerClock(clock.Now))
	require.NoError(t, err)
	return &Transport{Signer: s, Source: StaticToken(testToken)}
}

func TestTransportNonceFlow(t *testing.T) {
	clock := newFakeClock()
	srv := newNonceServer(t, clock)
	tr := newTestTransport(t, clock)
	client := &http.Client{Transport: tr}

	resp, err := client.Get(srv.URL + "/resource?x=1")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, int32(2), srv.hits.Load(), "one challenge, one retry")

	// The nonce is remembered for the origin: no second challenge.
	resp, err = client.Get(srv.URL + "/other")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int32(3), srv.hits.Load())
}

func TestTransportRetriesBodyWithGetBody(t *testing.T) {
	clock := newFakeClock()
	srv := newNonceServer(t, clock)
	client := &http.Client{Transport: newTestTransport(t, clock)}

	req, err := http.NewRequest("POST", srv.URL+"/echo", strings.NewReader("payload"))
	require.NoError(t, err)
	require.NotNil(t, req.GetBody)
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "payload", string(body), "the body was sent again")
	assert.Equal(t, int32(2), srv.hits.Load())
	assert.Empty(t, req.Header.Get("DPoP"), "the caller's request is not modified")
	assert.Empty(t, req.Header.Get("Authorization"))
}

func TestTransportNoRetryWithoutGetBody(t *testing.T) {
	clock := newFakeClock()
	srv := newNonceServer(t, clock)
	client := &http.Client{Transport: newTestTransport(t, clock)}

	req, err := http.NewRequest("POST", srv.URL+"/echo", io.NopCloser(strings.NewReader("once")))
	require.NoError(t, err)
	req.GetBody = nil
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, "need a nonce", string(body), "the challenge response is returned intact")
	assert.Equal(t, int32(1), srv.hits.Load())
	assert.NotEmpty(t, resp.Header.Get("DPoP-Nonce"))
}

func TestTransportRetriesOnlyOnce(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Always a new nonce, never satisfied.
		w.Header().Set("DPoP-Nonce", "n"+string(rune('a'+hits.Add(1))))
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	client := &http.Client{Transport: newTestTransport(t, newFakeClock())}
	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, int32(2), hits.Load())
}

func TestTransportConcurrent(t *testing.T) {
	clock := newFakeClock()
	srv := newNonceServer(t, clock)
	client := &http.Client{Transport: newTestTransport(t, clock)}
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range 20 {
		wg.Go(func() {
			resp, err := client.Get(srv.URL + "/r")
			if err == nil {
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(20), ok.Load())
}

type errSource struct{}

func (errSource) Token(context.Context) (string, error) { return "", errors.New("no token") }

func TestTransportErrors(t *testing.T) {
	_, err := (&Transport{}).RoundTrip(httptest.NewRequest("GET", "http://x/", nil))
	require.ErrorIs(t, err, ErrSigner)
	tr := newTestTransport(t, newFakeClock())
	tr.Source = errSource{}
	_, err = tr.RoundTrip(httptest.NewRequest("GET", "http://x/", nil))
	require.Error(t, err)
}

// TestDPoPChallengeError: the Transport reads the error of the DPoP
// challenge only, never the Bearer one.
func TestDPoPChallengeError(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   string
	}{
		{`DPoP error="use_dpop_nonce"`, "use_dpop_nonce"},
		{`dpop error=use_dpop_nonce`, "use_dpop_nonce"},
		{`Bearer realm="a, b", DPoP algs="ES256 PS256", error="use_dpop_nonce"`, "use_dpop_nonce"},
		{`Bearer error="use_dpop_nonce"`, ""},
		{`Bearer error="invalid_token", DPoP algs="ES256"`, ""},
		{`DPoP error="invalid_dpop_proof"`, "invalid_dpop_proof"},
		{`DPoP algs="ES256", error="invalid_token"`, "invalid_token"},
		{`DPoP error="use_dpop_nonce`, ""},
		{`Basic YWxhZGRpbjpvcGVuc2VzYW1l, DPoP error="use_dpop_nonce"`, "use_dpop_nonce"},
		{``, ""},
	} {
		t.Run(tc.header, func(t *testing.T) {
			h := http.Header{}
			h.Set("WWW-Authenticate", tc.header)
			assert.Equal(t, tc.want, dpopError(h))
		})
	}
}

func TestSignerProof(t *testing.T) {
	testKeys(t)
	clock := newFakeClock()
	s, err := NewSigner(ecKey, WithSignerClock(clock.Now))
	require.NoError(t, err)
	a, err := s.Proof("GET", testHTU+"?secret=1#f", testToken, "n1")
	require.NoError(t, err)
	b, err := s.Proof("GET", testHTU, testToken, "n1")
	require.NoError(t, err)
	ja, _ := splitClaims(t, a)
	jb, _ := splitClaims(t, b)
	assert.NotEqual(t, ja["jti"], jb["jti"], "fresh jti")
	assert.GreaterOrEqual(t, len(ja["jti"].(string)), 22, "128 bits or more")
	assert.Equal(t, testHTU, ja["htu"], "no query or fragment")
	assert.Equal(t, testATH, ja["ath"])
	assert.Equal(t, "n1", ja["nonce"])
	assert.Equal(t, float64(testNow.Unix()), ja["iat"])

	noToken, err := s.Proof("GET", testHTU, "", "")
	require.NoError(t, err)
	jn, _ := splitClaims(t, noToken)
	assert.NotContains(t, jn, "ath")
	assert.NotContains(t, jn, "nonce")

	for _, bad := range []string{"/relative", "ftp://x/", "https://u@x/", "::"} {
		_, err := s.Proof("GET", bad, "", "")
		require.ErrorIs(t, err, ErrSigner, bad)
	}
	_, err = s.Proof("", testHTU, "", "")
	require.ErrorIs(t, err, ErrSigner)

	_, err = NewSigner(rsa1024Key)
	require.ErrorIs(t, err, ErrConfig)
	_, err = NewSigner(ecKey, WithSignerAlgorithm("RS256"))
	require.ErrorIs(t, err, ErrConfig)
	_, err = NewSigner(rsaKey, WithSignerAlgorithm("ES256"))
	require.ErrorIs(t, err, ErrConfig)
	rs, err := NewSigner(rsaKey)
	require.NoError(t, err)
	assert.Equal(t, "PS256", rs.Algorithm())
}

func splitClaims(t *testing.T, proof string) (map[string]any, error) {
	t.Helper()
	parts := strings.Split(proof, ".")
	require.Len(t, parts, 3)
	raw, err := b64.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, jsonUnmarshal(raw, &m))
	return m, nil
}
