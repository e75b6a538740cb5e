package middleware

import (
	"crypto/rand"
	"net/http"
	"slices"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/internal/jose"
)

// WithFAPI2 applies the resource-server requirements of the FAPI 2.0
// Security Profile (OpenID Foundation, final, February 2025) together, and
// makes [New] refuse any option that would weaken them:
//
//   - §5.3.4 items 1 and 2: access tokens only in the Authorization header
//     (RFC 6750 §2.1, RFC 9449 §7.1), never in the query or a form body:
//     [WithQueryToken] and [WithFormToken] are refused.
//   - §5.3.4 item 3: validity, integrity and expiration are verified for
//     every token, as always; revocation as far as a JWT allows: a token
//     stops verifying when its signing key leaves the issuer's JWKS (also
//     for cached tokens). There is no per-token revocation check.
//   - §5.3.4 item 4: whether the token's authorization suffices is for
//     [Guard.Require] / [Guard.Authorize] ([Scopes], [Details], [StepUp]),
//     answered as RFC 6750 §3.1 says.
//   - §5.3.4 item 5: sender-constrained tokens only, with the mechanisms
//     given: MechanismDPoP, MechanismMTLS, or both (then a token may be
//     bound either way, but must be bound). [WithProofOfPossession] with
//     another policy, and [WithDPoPRequiredFor], are refused.
//   - §5.4.1 items 1.2 and 1.3: tokens and DPoP proofs signed with PS256,
//     ES256 or EdDSA with an Ed25519 key (and its fully-specified name
//     Ed25519, RFC 9864, where this module knows it); never none.
//     [WithAlgorithms] or a [WithDPoP] verifier accepting anything else,
//     and [WithHMACSecret], are refused. Without them, both lists are set
//     to these algorithms.
//   - §5.4.1 item 2: RSA keys of at least 2048 bits, which this module
//     requires of every key anyway.
//
// [Guard.Handler] also sets the x-fapi-interaction-id response header on
// every answer, rejections included, as open-banking ecosystems built on
// FAPI require (FAPI 1.0 Part 1 §6.2.1 item 11; FAPI 2.0 moved it to its
// implementation advice): the client's value when it is one well-formed
// RFC 4122 UUID, else a new random (version 4) UUID. Handlers read it with
// w.Header().Get("x-fapi-interaction-id") to log it. A malformed, oversized
// or repeated client value is replaced rather than echoed: the value is
// defined as a UUID, and reflecting arbitrary client bytes into responses
// and logs would only serve log injection or cache poisoning. Users of
// [Guard.Check] or [Guard.Verify] set the header themselves.
func WithFAPI2(mechanisms ...Mechanism) Option {
	return func(c *config) {
		f := &fapi2{}
		for _, m := range mechanisms {
			switch m {
			case MechanismDPoP:
				f.dpop = true
			case MechanismMTLS:
				f.mtls = true
			default:
				c.fail("WithFAPI2: mechanism %v is not a sender constraint (want MechanismDPoP and/or MechanismMTLS)", m)
			}
		}
		if len(mechanisms) == 0 {
			c.fail("WithFAPI2: no mechanism (want MechanismDPoP and/or MechanismMTLS)")
		}
		c.fapi = f
	}
}

// fapi2 is the sender-constraining choice of [WithFAPI2].
type fapi2 struct{ dpop, mtls bool }

// policy is the WithProofOfPossession equivalent: one mechanism, or
// MechanismNone with binding required, which accepts either binding and
// refuses unbound tokens.
func (f *fapi2) policy() (Mechanism, bool) {
	switch {
	case f.dpop && f.mtls:
		return MechanismNone, true
	case f.mtls:
		return MechanismMTLS, true
	}
	return MechanismDPoP, true
}

// fapi2Algorithms are the FAPI 2.0 §5.4.1 signature algorithms that this
// module can verify.
func fapi2Algorithms() []string {
	return slices.DeleteFunc([]string{"PS256", "ES256", "EdDSA", "Ed25519"}, func(a string) bool { return !jose.Asymmetric(a) })
}

// applyFAPI2 checks the other options against WithFAPI2 and applies its
// settings. It runs in New after every option, so the order of options
// does not matter.
func (c *config) applyFAPI2() {
	if c.fapi == nil {
		return
	}
	algs := fapi2Algorithms()
	if c.queryTokens {
		c.fail("WithFAPI2 refuses WithQueryToken: tokens only in the Authorization header (FAPI 2.0 §5.3.4 item 2)")
	}
	if c.formTokens {
		c.fail("WithFAPI2 refuses WithFormToken: tokens only in the Authorization header (FAPI 2.0 §5.3.4 item 1)")
	}
	if len(c.hmac) > 0 {
		c.fail("WithFAPI2 refuses WithHMACSecret: HS256 is not a FAPI 2.0 algorithm (§5.4.1 item 1.2)")
	}
	if c.algsSet {
		for _, a := range c.algorithms {
			if !slices.Contains(algs, a) {
				c.fail("WithFAPI2 refuses token algorithm %q: want %v (FAPI 2.0 §5.4.1 item 1.2)", a, algs)
			}
		}
	} else {
		c.algorithms = algs
	}
	if c.dpopVerifier != nil {
		for _, a := range c.dpopVerifier.Algorithms() {
			if !slices.Contains(algs, a) {
				c.fail("WithFAPI2 refuses DPoP proof algorithm %q: want %v (FAPI 2.0 §5.4.1 item 1.2)", a, algs)
			}
		}
	}
	m, required := c.fapi.policy()
	if c.popSet && (c.mechanism != m || c.required != required) {
		c.fail("WithFAPI2 refuses WithProofOfPossession(%v, %v): sender-constrained tokens are required (FAPI 2.0 §5.3.4 item 5); "+
			"choose mechanisms in WithFAPI2", c.mechanism, c.required)
	}
	if c.dpopRequiredFn != nil {
		c.fail("WithFAPI2 refuses WithDPoPRequiredFor: every token must be sender-constrained (FAPI 2.0 §5.3.4 item 5)")
	}
	c.mechanism, c.required = m, required
}

// dpopOptions are the options of the default DPoP verifier.
func (c *config) dpopOptions() []dpop.Option {
	if c.fapi == nil {
		return nil
	}
	return []dpop.Option{dpop.WithAlgorithms(fapi2Algorithms()...)}
}

// interactionIDHeader is FAPI's x-fapi-interaction-id, canonicalised.
const interactionIDHeader = "X-Fapi-Interaction-Id"

// setInteractionID echoes the client's x-fapi-interaction-id when it is
// exactly one well-formed UUID, else sets a new one.
func setInteractionID(w http.ResponseWriter, r *http.Request) {
	id := ""
	if v := r.Header.Values(interactionIDHeader); len(v) == 1 && isUUID(v[0]) {
		id = v[0]
	} else {
		id = newUUID()
	}
	w.Header().Set(interactionIDHeader, id)
}

// isUUID reports whether s is the RFC 4122 (RFC 9562 §4) text form of a
// UUID: 8-4-4-4-12 hexadecimal digits, either case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// newUUID returns a random (version 4) UUID (RFC 9562 §5.4) from
// crypto/rand.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexDigits = "0123456789abcdef"
	var out [36]byte
	j := 0
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[v>>4], hexDigits[v&0x0f]
		j += 2
	}
	return string(out[:])
}
