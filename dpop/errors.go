package dpop

import "errors"

// Reasons a proof is rejected or a component cannot work. Each is returned
// wrapped with context; test for them with [errors.Is]. [ErrReplayed] and
// [ErrReplayCacheUnavailable] are declared beside [ReplayCache].
var (
	// ErrMalformed: the proof is not one well-formed compact JWS, its header
	// or claims are not a JSON object, or a required member is missing or of
	// the wrong JSON type (RFC 9449 §4.3 steps 2 and 3).
	ErrMalformed = errors.New("dpop: malformed proof")
	// ErrTooLarge: the proof is longer than the configured maximum. It is
	// checked before any decoding.
	ErrTooLarge = errors.New("dpop: proof too large")
	// ErrType: the typ header is not dpop+jwt (step 4).
	ErrType = errors.New("dpop: proof typ is not dpop+jwt")
	// ErrAlgorithm: alg is not an allowed asymmetric algorithm (step 5).
	ErrAlgorithm = errors.New("dpop: proof algorithm not allowed")
	// ErrSignature: the signature does not verify with the jwk (step 6).
	ErrSignature = errors.New("dpop: proof signature invalid")
	// ErrPrivateKey: the jwk carries private key material (step 7).
	ErrPrivateKey = errors.New("dpop: proof jwk holds private key material")
	// ErrKey: the jwk is not a supported, well-formed public key, is an RSA
	// key outside 2048–4096 bits, or does not fit alg (step 6).
	ErrKey = errors.New("dpop: proof jwk is unusable")
	// ErrMethod: htm differs from the request method (step 8).
	ErrMethod = errors.New("dpop: proof htm does not match the request method")
	// ErrURL: htu differs from the request URI (step 9), or either URI is
	// not an absolute http(s) URI.
	ErrURL = errors.New("dpop: proof htu does not match the request URI")
	// ErrNonce: nonces are required and the proof's nonce is missing,
	// invalid or expired (step 10). The HTTP answer is use_dpop_nonce with a
	// fresh nonce from [Verifier.Nonce].
	ErrNonce = errors.New("dpop: proof nonce missing, invalid or expired")
	// ErrIssuedAt: iat is outside the acceptance window (step 11).
	ErrIssuedAt = errors.New("dpop: proof iat outside the acceptance window")
	// ErrAccessTokenHash: ath is not the hash of the presented access token
	// (step 12).
	ErrAccessTokenHash = errors.New("dpop: proof ath does not match the access token")
	// ErrKeyMismatch: the proof key's thumbprint differs from the token's
	// cnf.jkt (step 12).
	ErrKeyMismatch = errors.New("dpop: proof key does not match the token binding")
	// ErrReplayCacheFull: a [MemoryReplayCache] is full of live entries and
	// refuses to record more rather than forget live ones. A [Verifier]
	// reports it joined with [ErrReplayCacheUnavailable].
	ErrReplayCacheFull = errors.New("dpop: replay cache full")
	// ErrNoNonces: nonces were asked for but no [NonceSource] is configured.
	ErrNoNonces = errors.New("dpop: no nonce source configured")
	// ErrConfig: a constructor was given an invalid option.
	ErrConfig = errors.New("dpop: invalid configuration")
)
