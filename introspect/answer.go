package introspect

import (
	"context"
	"encoding/json"
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
	active    bool
	tokenType string
	exp       time.Time
}

// parseAnswer reads an RFC 7662 §2.2 answer with exact, case-sensitive
// member names: active is required and must be a JSON boolean (the string
// "true" or the number 1 are not); token_type, when present, a string; exp,
// when present, a NumericDate. Each of them may appear once. The other
// members are left for the caller, who reads them with the same rules.
func parseAnswer(object []byte) (answer, error) {
	var a answer
	if !jose.DepthWithin(object, maxDepth) {
		return a, fmt.Errorf("%w: nested too deeply", errAnswer)
	}
	var seen [3]bool
	err := jsonobj.Members(object, func(name string, v []byte) error {
		var i int
		ok := true
		switch name {
		case "active":
			i = 0
			switch string(v) {
			case "true":
				a.active = true
			case "false":
			default:
				ok = false
			}
		case "token_type":
			i = 1
			a.tokenType, ok = jsonobj.String(v)
		case "exp":
			i = 2
			a.exp, ok = numericDate(v)
		default:
			return nil
		}
		if !ok {
			return fmt.Errorf("%w: %s has the wrong type", errAnswer, name)
		}
		if seen[i] {
			return fmt.Errorf("%w: %s appears twice", errAnswer, name)
		}
		seen[i] = true
		return nil
	})
	switch {
	case err == jsonobj.ErrInvalid:
		return answer{}, fmt.Errorf("%w: not a JSON object", errAnswer)
	case err != nil:
		return answer{}, err
	case !seen[0]:
		return answer{}, fmt.Errorf("%w: no active member", errAnswer)
	}
	return a, nil
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

// parseHeader reads alg, kid, typ and crit with exact names, once each.
func parseHeader(data []byte) (header, error) {
	var h header
	var seen [4]bool
	err := jsonobj.Members(data, func(name string, v []byte) error {
		var i int
		ok := true
		switch name {
		case "alg":
			i = 0
			h.alg, ok = jsonobj.String(v)
		case "kid":
			i = 1
			h.kid, ok = jsonobj.String(v)
		case "typ":
			i = 2
			h.typ, ok = jsonobj.String(v)
		case "crit":
			i = 3
			h.crit = true
		default:
			return nil
		}
		if !ok || seen[i] {
			return fmt.Errorf("%w: header member %s invalid", errAnswer, name)
		}
		seen[i] = true
		return nil
	})
	if err == jsonobj.ErrInvalid {
		return h, fmt.Errorf("%w: header is not a JSON object", errAnswer)
	}
	return h, err
}

// envelope is the payload of a signed answer (RFC 9701 §5).
type envelope struct {
	iss    string
	aud    []string
	object []byte
}

func parseEnvelope(data []byte) (envelope, error) {
	var e envelope
	var seen [4]bool
	err := jsonobj.Members(data, func(name string, v []byte) error {
		var i int
		ok := true
		switch name {
		case "iss":
			i = 0
			e.iss, ok = jsonobj.String(v)
		case "aud":
			i = 1
			if s, isString := jsonobj.String(v); isString {
				e.aud = []string{s}
			} else {
				ok = v[0] == '[' && json.Unmarshal(v, &e.aud) == nil
			}
		case "iat":
			i = 2
			_, ok = numericDate(v)
		case "token_introspection":
			i = 3
			ok = v[0] == '{'
			e.object = v
		default:
			return nil
		}
		if !ok || seen[i] {
			return fmt.Errorf("%w: claim %s invalid", errAnswer, name)
		}
		seen[i] = true
		return nil
	})
	if err == jsonobj.ErrInvalid {
		return e, fmt.Errorf("%w: payload is not a JSON object", errAnswer)
	}
	return e, err
}
