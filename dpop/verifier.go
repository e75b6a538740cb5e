package dpop

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/internal/jsonobj"
)

// Defaults of a [Verifier].
const (
	// defaultIATWindow is how old a proof may be. RFC 9449 §11.1 asks for a
	// short window; a proof is made just before its request is sent, so one
	// minute covers slow networks while keeping the replay memory small.
	defaultIATWindow = 60 * time.Second
	// defaultClockSkew is how far a client's clock may be ahead of (or
	// behind, added to the window) the server's. Clients whose clocks drift
	// more should be served with nonces.
	defaultClockSkew = 5 * time.Second
	// defaultMaxProofSize admits an RSA-4096 proof with room to spare.
	defaultMaxProofSize = 8 << 10
	// maxRSABits bounds the work an RSA proof key can cause.
	maxRSABits = 4096
)

// DefaultAlgorithms are the proof algorithms a [Verifier] accepts unless
// [WithAlgorithms] says otherwise. Ed25519 is RFC 9864's fully-specified
// name for EdDSA with an Ed25519 key, which current clients such as
// oauth4webapi use; both names accept Ed25519 keys only.
var DefaultAlgorithms = []string{"ES256", "ES384", "PS256", "RS256", "EdDSA", "Ed25519"}

// Verifier checks DPoP proofs (RFC 9449 §4.3, §7.1, §11.1). Build it once
// with [NewVerifier]. A Verifier is safe for concurrent use.
type Verifier struct {
	algs    []string
	replay  ReplayCache
	nonces  NonceSource
	window  time.Duration
	skew    time.Duration
	maxSize int
	now     func() time.Time
	keys    *keyCache
}

// Option configures a [Verifier].
type Option func(*config)

type config struct {
	algs    []string
	replay  ReplayCache
	nonces  NonceSource
	window  time.Duration
	skew    time.Duration
	maxSize int
	now     func() time.Time
	errs    []error
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format+": %w", append(args, ErrConfig)...))
}

// WithAlgorithms sets the accepted proof algorithms (default
// [DefaultAlgorithms]). Only asymmetric JWS algorithms are allowed: an empty
// list, none, HS* and unknown names are refused.
func WithAlgorithms(algs ...string) Option {
	return func(c *config) {
		if len(algs) == 0 {
			c.fail("empty algorithm list")
		}
		for _, a := range algs {
			if !jose.Asymmetric(a) {
				c.fail("algorithm %q is not an asymmetric JWS algorithm", a)
			}
		}
		c.algs = slices.Clone(algs)
	}
}

// WithReplayCache sets where accepted proofs are remembered. The default is
// a [MemoryReplayCache] sized for this Verifier's window; a fleet of servers
// must share one cache instead.
func WithReplayCache(rc ReplayCache) Option {
	return func(c *config) {
		if rc == nil {
			c.fail("nil replay cache")
		}
		c.replay = rc
	}
}

// WithNonces makes server nonces required: every proof must carry a nonce
// that n accepts.
func WithNonces(n NonceSource) Option {
	return func(c *config) {
		if n == nil {
			c.fail("nil nonce source")
		}
		c.nonces = n
	}
}

// WithIATWindow sets how old a proof may be (default 60 s), not counting
// the clock-skew allowance.
func WithIATWindow(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 || d > time.Hour {
			c.fail("iat window %v not in (0, 1h]", d)
		}
		c.window = d
	}
}

// WithClockSkew sets the allowance for client clocks ahead of or behind the
// server's (default 5 s): a proof may be up to window+skew old and up to
// skew in the future.
func WithClockSkew(d time.Duration) Option {
	return func(c *config) {
		if d < 0 || d > 10*time.Minute {
			c.fail("clock skew %v not in [0, 10m]", d)
		}
		c.skew = d
	}
}

// WithMaxProofSize sets the longest proof accepted, in bytes (default
// 8 KiB). It is checked before any decoding.
func WithMaxProofSize(n int) Option {
	return func(c *config) {
		if n < 64 {
			c.fail("max proof size %d is too small", n)
		}
		c.maxSize = n
	}
}

// WithClock sets the clock (default time.Now). The default replay cache
// uses it too.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			c.fail("nil clock")
		}
		c.now = now
	}
}

// NewVerifier returns a Verifier. Invalid options are all reported at once,
// each wrapping [ErrConfig].
func NewVerifier(opts ...Option) (*Verifier, error) {
	cfg := config{
		algs:    slices.Clone(DefaultAlgorithms),
		window:  defaultIATWindow,
		skew:    defaultClockSkew,
		maxSize: defaultMaxProofSize,
		now:     time.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	if cfg.replay == nil {
		mc, err := NewMemoryReplayCache(
			WithCapacity(defaultReplayCapacity(entryLifetime(cfg.window, cfg.skew))),
			WithCacheClock(cfg.now))
		if err != nil {
			return nil, err
		}
		cfg.replay = mc
	}
	return &Verifier{
		algs:    cfg.algs,
		replay:  cfg.replay,
		nonces:  cfg.nonces,
		window:  cfg.window,
		skew:    cfg.skew,
		maxSize: cfg.maxSize,
		now:     cfg.now,
		keys:    newKeyCache(),
	}, nil
}

// Algorithms returns the accepted algorithms, for algs="…" challenges and
// dpop_signing_alg_values_supported metadata.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.algs) }

// Nonce returns a fresh nonce for a DPoP-Nonce response header, or fails
// with [ErrNoNonces] when no [NonceSource] is configured.
func (v *Verifier) Nonce() (string, error) {
	if v.nonces == nil {
		return "", ErrNoNonces
	}
	return v.nonces.Nonce()
}

// Request is what a proof is checked against.
type Request struct {
	// Method is the request's method.
	Method string
	// URL is the request's external URL, as clients address it (see
	// [URLResolver]). Its query and fragment are ignored.
	URL *url.URL
	// AccessToken, when not empty, is the access token that came with the
	// proof: ath must equal base64url(SHA-256(AccessToken)).
	AccessToken string
	// JKT, when not empty, is the token's cnf.jkt: the proof key's
	// thumbprint must equal it.
	JKT string
}

// Proof is a verified DPoP proof.
type Proof struct {
	// Key is the proof's public key.
	Key crypto.PublicKey
	// Thumbprint is the RFC 7638 thumbprint of Key.
	Thumbprint string
	// Algorithm is the proof's alg.
	Algorithm string
	// ID is the proof's jti.
	ID string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
	// Nonce is the proof's nonce, if any.
	Nonce string
	// NextNonce, when not empty, is a fresh nonce that the server should
	// send in a DPoP-Nonce header of its response, because the proof's nonce
	// will soon expire.
	NextNonce string
}

// proofHeader holds the JOSE header members of a proof.
type proofHeader struct {
	typ, alg string
	jwk      []byte // raw JSON object
	seen     jsonobj.Seen
}

// proofClaims holds the claims of a proof.
type proofClaims struct {
	jti, htm, htu, ath, nonce string
	iat                       float64
	seen                      jsonobj.Seen
}

// headerTable reads a proof's JOSE header; typ, alg and jwk are required
// (RFC 9449 §4.3 (3)), and crit fails: no extension is understood here
// (RFC 7515 §4.1.11). Strings share the decoded proof's memory, which is
// never modified.
var headerTable = jsonobj.NewTable(jsonobj.IgnoreUnknown,
	jsonobj.Member[proofHeader]{Name: "typ", Required: true, Read: func(h *proofHeader, v []byte) (ok bool) {
		h.typ, ok = jsonobj.StringView(v)
		return
	}},
	jsonobj.Member[proofHeader]{Name: "alg", Required: true, Read: func(h *proofHeader, v []byte) (ok bool) {
		h.alg, ok = jsonobj.StringView(v)
		return
	}},
	jsonobj.Member[proofHeader]{Name: "jwk", Required: true, Read: func(h *proofHeader, v []byte) bool {
		h.jwk = v
		return v[0] == '{'
	}},
	jsonobj.Member[proofHeader]{Name: "crit", Read: func(*proofHeader, []byte) bool { return false }},
)

// The claims of a proof, in claimsTable's order.
const (
	claimJTI = iota
	claimHTM
	claimHTU
	claimIAT
	claimATH
	claimNonce
)

// claimsTable reads a proof's claims; jti, htm, htu and iat are required
// (RFC 9449 §4.3 (3)); ath and nonce are checked by Verify when needed.
var claimsTable = jsonobj.NewTable(jsonobj.IgnoreUnknown,
	proofClaim("jti", true, func(c *proofClaims, v []byte) (ok bool) { c.jti, ok = jsonobj.StringView(v); return }),
	proofClaim("htm", true, func(c *proofClaims, v []byte) (ok bool) { c.htm, ok = jsonobj.StringView(v); return }),
	proofClaim("htu", true, func(c *proofClaims, v []byte) (ok bool) { c.htu, ok = jsonobj.StringView(v); return }),
	proofClaim("iat", true, func(c *proofClaims, v []byte) (ok bool) { c.iat, ok = jsonobj.Number(v); return }),
	proofClaim("ath", false, func(c *proofClaims, v []byte) (ok bool) { c.ath, ok = jsonobj.StringView(v); return }),
	proofClaim("nonce", false, func(c *proofClaims, v []byte) (ok bool) { c.nonce, ok = jsonobj.StringView(v); return }),
)

func proofClaim(name string, required bool, read func(*proofClaims, []byte) bool) jsonobj.Member[proofClaims] {
	return jsonobj.Member[proofClaims]{Name: name, Required: required, Read: read}
}

func parseHeader(data []byte) (proofHeader, error) {
	var h proofHeader
	err := h.read(data)
	return h, err
}

func (h *proofHeader) read(data []byte) (err error) {
	h.seen, err = headerTable.Read(data, h)
	return err
}

func parseClaims(data []byte) (proofClaims, error) {
	var c proofClaims
	err := c.read(data)
	return c, err
}

func (c *proofClaims) read(data []byte) (err error) {
	c.seen, err = claimsTable.Read(data, c)
	return err
}

// proofParts are a proof's header and claims as read, in one allocation
// (both leave the stack through the tables' decoders).
type proofParts struct {
	h proofHeader
	c proofClaims
}

// jwsChars marks the bytes of a compact JWS: base64url and ".".
var jwsChars = func() (t [256]bool) {
	for c := range 256 {
		t[c] = unreserved(byte(c)) && c != '~'
	}
	return t
}()

// Verify checks one proof (the value of the request's single DPoP header)
// against req, performing every check of RFC 9449 §4.3 in order, with the
// resource-server checks of §7.1 (ath, and cnf.jkt when req.JKT is set).
// Only when all of them pass does it record the proof in the replay cache
// (§11.1), until iat + window + 2·skew + 1 ms: the end of the proof's
// acceptance window (iat + window + skew) on the clock of any server that
// lags this one by up to skew, as a fleet sharing the cache may; a proof
// seen before fails with [ErrReplayed],
// and a cache that cannot answer makes Verify fail with
// [ErrReplayCacheUnavailable] (joined with [ErrReplayCacheFull] when a
// [MemoryReplayCache] is full).
//
// Step 1 (at most one DPoP header field) is the caller's: pass the single
// value. A list of values joined with commas is not one compact JWS and
// fails step 2. Step 7 (no private key material) is checked while the jwk is
// read, before the signature is verified with it.
//
// Errors wrap one of the package's sentinels; their texts never contain the
// proof or the token.
func (v *Verifier) Verify(ctx context.Context, proof string, req Request) (*Proof, error) {
	if len(proof) > v.maxSize {
		return nil, ErrTooLarge
	}
	// RFC 9449 §4.3 (1), (2): one well-formed compact JWS.
	for i := 0; i < len(proof); i++ {
		if !jwsChars[proof[i]] {
			return nil, fmt.Errorf("unexpected character in proof: %w", ErrMalformed)
		}
	}
	jws, err := jose.Split(proof)
	if err != nil {
		return nil, fmt.Errorf("not a compact JWS: %w", ErrMalformed)
	}

	// RFC 9449 §4.3 (3): required members present, with the right types.
	parts := new(proofParts)
	h, c := &parts.h, &parts.c
	err = h.read(jws.Header)
	if errors.Is(err, jsonobj.ErrMissing) {
		return nil, fmt.Errorf("header lacks typ, alg or jwk: %w", ErrMalformed)
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", ErrMalformed)
	}
	err = c.read(jws.Payload)
	if errors.Is(err, jsonobj.ErrMissing) || err == nil && c.jti == "" {
		return nil, fmt.Errorf("claims lack jti, htm, htu or iat: %w", ErrMalformed)
	}
	if err != nil {
		return nil, fmt.Errorf("claims: %w", ErrMalformed)
	}
	if req.AccessToken != "" && !c.seen.Has(claimATH) {
		return nil, fmt.Errorf("claims lack ath: %w", ErrMalformed)
	}

	// RFC 9449 §4.3 (4): typ is dpop+jwt (media types compare
	// case-insensitively, RFC 7515 §4.1.9).
	if !strings.EqualFold(h.typ, "dpop+jwt") {
		return nil, ErrType
	}

	// RFC 9449 §4.3 (5): alg is asymmetric, supported and allowed.
	if !slices.Contains(v.algs, h.alg) {
		return nil, ErrAlgorithm
	}

	// RFC 9449 §4.3 (7): the jwk holds no private key material; (6) the
	// key suits alg (below). A JWK text read before is not read again: the
	// cache holds what reading exactly these bytes gave.
	ent, ok := v.keys.get(h.jwk)
	if !ok {
		k, err := parseJWK(h.jwk)
		if err != nil {
			return nil, err
		}
		if ent.key, err = k.publicKey(); err != nil {
			return nil, err
		}
		ent.thumbprint = k.thumbprint()
		v.keys.put(h.jwk, ent)
	}
	thumb, key := ent.thumbprint, ent.key
	if rk, ok := key.(*rsa.PublicKey); ok && rk.N.BitLen() > maxRSABits {
		return nil, fmt.Errorf("RSA key over %d bits: %w", maxRSABits, ErrKey)
	}
	switch err := jose.Verify(h.alg, jws.SigningInput, jws.Signature, key); {
	case err == nil:
	case errors.Is(err, jose.ErrKeyType), errors.Is(err, jose.ErrRSAKeyTooSmall):
		return nil, fmt.Errorf("key does not fit %s: %w", h.alg, ErrKey)
	case errors.Is(err, jose.ErrAlgorithm):
		return nil, ErrAlgorithm
	default:
		return nil, ErrSignature
	}

	// RFC 9449 §4.3 (8): htm is the request method.
	if c.htm != req.Method {
		return nil, ErrMethod
	}

	// RFC 9449 §4.3 (9): htu is the request URI, ignoring query and
	// fragment, after normalisation of both.
	if req.URL == nil {
		return nil, fmt.Errorf("no request URL: %w", ErrURL)
	}
	want, err := NormalizeURI(requestURI(req.URL))
	if err != nil {
		return nil, fmt.Errorf("request URL: %w", err)
	}
	// An htu already in normal form, as clients usually send it, is not
	// normalized again: NormalizeURI is idempotent (FuzzNormalizeURI), so
	// c.htu == want implies NormalizeURI(c.htu) == want.
	if c.htu != want {
		got, err := NormalizeURI(c.htu)
		if err != nil {
			return nil, fmt.Errorf("htu: %w", err)
		}
		if got != want {
			return nil, ErrURL
		}
	}

	// RFC 9449 §4.3 (10): the nonce is one this server issued and accepts.
	p := &Proof{Nonce: c.nonce}
	if v.nonces != nil {
		if !c.seen.Has(claimNonce) {
			return nil, fmt.Errorf("nonce required: %w", ErrNonce)
		}
		status, err := v.nonces.Check(c.nonce)
		if err != nil {
			if errors.Is(err, ErrNonce) {
				return nil, err
			}
			return nil, errors.Join(ErrNonce, err)
		}
		if status != NonceCurrent {
			if p.NextNonce, err = v.nonces.Nonce(); err != nil {
				return nil, errors.Join(ErrNonce, err)
			}
		}
	}

	// RFC 9449 §4.3 (11): iat is within the window, allowing for skew.
	now := v.now()
	if c.iat < 0 || c.iat > math.MaxInt32*4 { // after the year 2200: nonsense
		return nil, ErrIssuedAt
	}
	sec, frac := math.Modf(c.iat)
	iat := time.Unix(int64(sec), int64(frac*1e9))
	if iat.Before(now.Add(-(v.window + v.skew))) {
		return nil, fmt.Errorf("proof too old: %w", ErrIssuedAt)
	}
	if iat.After(now.Add(v.skew)) {
		return nil, fmt.Errorf("proof from the future: %w", ErrIssuedAt)
	}

	// RFC 9449 §4.3 (12): ath is the hash of this access token.
	if req.AccessToken != "" {
		sum := jose.SHA256(req.AccessToken)
		var enc [43]byte
		b64.Encode(enc[:], sum[:])
		if !MatchThumbprint(c.ath, string(enc[:])) {
			return nil, ErrAccessTokenHash
		}
	}
	// RFC 9449 §4.3 (12): the token is bound to this key.
	if req.JKT != "" && !MatchThumbprint(thumb, req.JKT) {
		return nil, ErrKeyMismatch
	}

	// RFC 9449 §11.1: each proof is accepted once while it could be accepted.
	// This server accepts it up to and including iat+window+skew by its own
	// clock; a fleet member whose clock lags this one by up to skew accepts
	// it until iat+window+2·skew by this clock, so the entry lives that long.
	// Stores count in milliseconds: one more keeps the last instant covered.
	until := iat.Add(v.window + 2*v.skew + time.Millisecond)
	seen, err := v.replay.Record(ctx, NewReplayKey(thumb, c.jti), until)
	if err != nil {
		if errors.Is(err, ErrReplayCacheUnavailable) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrReplayCacheUnavailable, err)
	}
	if seen {
		return nil, ErrReplayed
	}

	p.Key = key
	p.Thumbprint = thumb
	p.Algorithm = h.alg
	p.ID = c.jti
	p.IssuedAt = iat
	return p, nil
}

// entryLifetime is the longest time from a proof's verification to the
// until of its replay entry: iat may be skew in the future, and the entry
// lives until iat + window + 2·skew.
func entryLifetime(window, skew time.Duration) time.Duration { return window + 3*skew }

// requestURI returns u without its query and fragment, as text.
func requestURI(u *url.URL) string {
	c := url.URL{Scheme: u.Scheme, Opaque: u.Opaque, User: u.User, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return c.String()
}
