package introspect

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/internal/jsonobj"
)

// maxDepth bounds the nesting of an answer, checked before it is parsed.
const maxDepth = 16

// maxNumericDate is 9999-12-31T23:59:59Z: a larger exp would mean "never".
const maxNumericDate = 253402300799

// answer is what the Client itself reads of an RFC 7662 §2.2 answer; the
// other members are the caller's.
type answer struct {
	active        bool
	activeNotBool bool // active is present but not true or false
	tokenType     string
	exp           time.Time
}

// answerTable reads an RFC 7662 §2.2 answer with exact, case-sensitive
// member names: active is required and must be a JSON boolean (the string
// "true" or the number 1 are not); token_type, when present, a string; exp,
// when present, a NumericDate. Each may appear once. The other members are
// left for the caller, who reads them with the same rules.
var answerTable = jsonobj.NewTable(jsonobj.IgnoreUnknown,
	jsonobj.Member[answer]{Name: "active", Required: true, Read: func(a *answer, v []byte) bool {
		switch string(v) {
		case "true":
			a.active = true
			return true
		case "false":
			return true
		}
		a.activeNotBool = true
		return false
	}},
	jsonobj.Member[answer]{Name: "token_type", Read: func(a *answer, v []byte) (ok bool) {
		a.tokenType, ok = jsonobj.String(v)
		return
	}},
	jsonobj.Member[answer]{Name: "exp", Read: func(a *answer, v []byte) (ok bool) {
		a.exp, ok = numericDate(v)
		return
	}},
)

// parseAnswer reads an answer with answerTable, after the depth limit.
func parseAnswer(object []byte) (answer, error) {
	var a answer
	if !jose.DepthWithin(object, maxDepth) {
		return answer{}, fmt.Errorf("%w: nested too deeply", errAnswer)
	}
	if _, err := answerTable.Read(object, &a); err != nil {
		if a.activeNotBool {
			return answer{}, fmt.Errorf("%w: active is not a JSON boolean", errAnswer)
		}
		return answer{}, tableError(err)
	}
	return a, nil
}

// tableError names a table's failure without naming a value.
func tableError(err error) error {
	switch {
	case errors.Is(err, jsonobj.ErrInvalid):
		return fmt.Errorf("%w: not a JSON object", errAnswer)
	case errors.Is(err, jsonobj.ErrType):
		return fmt.Errorf("%w: a member has the wrong type", errAnswer)
	case errors.Is(err, jsonobj.ErrMissing):
		return fmt.Errorf("%w: a required member (active) is missing", errAnswer)
	case errors.Is(err, jsonobj.ErrDuplicate):
		return fmt.Errorf("%w: a member appears twice", errAnswer)
	}
	return fmt.Errorf("%w: %w", errAnswer, err)
}

// numericDate reads an RFC 7519 NumericDate: a JSON number of seconds,
// not negative, not past the year 9999.
func numericDate(v []byte) (time.Time, bool) {
	f, ok := jsonobj.Number(v)
	if !ok || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// verifyJWT checks an RFC 9701 signed answer and returns its
// token_introspection object: typ token-introspection+jwt (§5), an allowed
// asymmetric algorithm and a valid signature by the issuer's key, iss the
// issuer, aud containing our client ID (§5, RFC 7519 §4.1.3), and
// token_introspection a JSON object.
func (c *Client) verifyJWT(ctx context.Context, compact string) ([]byte, error) {
	jws, err := jose.Split(compact)
	if err != nil {
		return nil, fmt.Errorf("%w: not a compact JWS", errAnswer)
	}
	if !jose.DepthWithin(jws.Header, maxDepth) || !jose.DepthWithin(jws.Payload, maxDepth) {
		return nil, fmt.Errorf("%w: nested too deeply", errAnswer)
	}
	h, err := parseHeader(jws.Header)
	if err != nil {
		return nil, err
	}
	switch {
	case h.crit:
		return nil, fmt.Errorf("%w: unsupported crit header", errAnswer)
	case !strings.EqualFold(h.typ, "token-introspection+jwt") && !strings.EqualFold(h.typ, jwtMediaType):
		return nil, fmt.Errorf("%w: typ is not token-introspection+jwt", errAnswer)
	case !jose.Asymmetric(h.alg):
		return nil, fmt.Errorf("%w: algorithm not allowed", errAnswer)
	}
	key, err := c.jwtKeys.Key(ctx, c.issuer, h.kid, h.alg)
	if err != nil {
		return nil, fmt.Errorf("%w: no key for the signature: %w", errAnswer, err)
	}
	if err := jose.Verify(h.alg, jws.SigningInput, jws.Signature, key); err != nil {
		return nil, fmt.Errorf("%w: signature invalid", errAnswer)
	}
	p, err := parseEnvelope(jws.Payload)
	if err != nil {
		return nil, err
	}
	switch {
	case p.iss != c.issuer:
		return nil, fmt.Errorf("%w: iss is not the issuer", errAnswer)
	case !slices.Contains(p.aud, c.jwtAudience):
		return nil, fmt.Errorf("%w: aud is not our client ID", errAnswer)
	case p.object == nil:
		return nil, fmt.Errorf("%w: no token_introspection object", errAnswer)
	}
	return slices.Clone(p.object), nil
}

type header struct {
	alg, kid, typ string
	crit          bool
}

// headerTable reads alg, kid, typ and crit with exact names, once each.
var headerTable = jsonobj.NewTable(jsonobj.IgnoreUnknown,
	jsonobj.Member[header]{Name: "alg", Read: func(h *header, v []byte) (ok bool) { h.alg, ok = jsonobj.String(v); return }},
	jsonobj.Member[header]{Name: "kid", Read: func(h *header, v []byte) (ok bool) { h.kid, ok = jsonobj.String(v); return }},
	jsonobj.Member[header]{Name: "typ", Read: func(h *header, v []byte) (ok bool) { h.typ, ok = jsonobj.String(v); return }},
	jsonobj.Member[header]{Name: "crit", Read: func(h *header, _ []byte) bool { h.crit = true; return true }},
)

func parseHeader(data []byte) (header, error) {
	var h header
	if _, err := headerTable.Read(data, &h); err != nil {
		return h, fmt.Errorf("header: %w", tableError(err))
	}
	return h, nil
}

// envelope is the payload of a signed answer (RFC 9701 §5).
type envelope struct {
	iss    string
	aud    []string
	object []byte
}

// envelopeTable reads iss, aud (a string or an array of strings), iat and
// token_introspection (a JSON object, required).
var envelopeTable = jsonobj.NewTable(jsonobj.IgnoreUnknown,
	jsonobj.Member[envelope]{Name: "iss", Read: func(e *envelope, v []byte) (ok bool) { e.iss, ok = jsonobj.String(v); return }},
	jsonobj.Member[envelope]{Name: "aud", Read: func(e *envelope, v []byte) bool {
		if s, ok := jsonobj.String(v); ok {
			e.aud = []string{s}
			return true
		}
		var ok bool
		e.aud, ok = jsonobj.Strings(v)
		return ok
	}},
	jsonobj.Member[envelope]{Name: "iat", Read: func(_ *envelope, v []byte) bool { _, ok := numericDate(v); return ok }},
	jsonobj.Member[envelope]{Name: "token_introspection", Required: true, Read: func(e *envelope, v []byte) bool {
		e.object = v
		return v[0] == '{'
	}},
)

func parseEnvelope(data []byte) (envelope, error) {
	var e envelope
	if _, err := envelopeTable.Read(data, &e); err != nil {
		return e, fmt.Errorf("payload: %w", tableError(err))
	}
	return e, nil
}
