package jwks

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/MicahParks/jwkset"
)

// Why a JWK is never used to verify. A JWK that publishes private members
// gives its signing key to anyone who reads the JWKS; one whose "use" and
// "key_ops" contradict each other (RFC 7517 §4.3: they MUST be consistent)
// or whose key_ops repeats a value says nothing that can be trusted.
var (
	errPrivateMembers = errors.New("publishes private key members")
	errUseKeyOps      = errors.New(`"use" and "key_ops" contradict each other`)
	errKeyOpsTwice    = errors.New(`"key_ops" repeats a value`)

	errNoVerify = fmt.Errorf("%w: JWK key_ops does not hold \"verify\"", ErrKeyMismatch)
)

// privateMembers names the private key members m carries: "d" (RSA, EC,
// OKP), the RSA CRT values and "oth" (RFC 7518 §6.3.2), and the symmetric
// "k" (RFC 7518 §6.4.1).
func privateMembers(m jwkset.JWKMarshal) []string {
	var names []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"d", m.D != ""}, {"p", m.P != ""}, {"q", m.Q != ""}, {"dp", m.DP != ""},
		{"dq", m.DQ != ""}, {"qi", m.QI != ""}, {"oth", len(m.OTH) > 0}, {"k", m.K != ""},
	} {
		if f.set {
			names = append(names, f.name)
		}
	}
	return names
}

// neverUsed returns why j must never be used to verify, or nil. Besides
// the members jwkset kept, a private Go key counts (a storage written in
// process).
func neverUsed(j jwkset.JWK) error {
	m := j.Marshal()
	if names := privateMembers(m); len(names) > 0 {
		return fmt.Errorf("%w (%s)", errPrivateMembers, strings.Join(names, ", "))
	}
	switch j.Key().(type) {
	case []byte, interface{ Public() crypto.PublicKey }:
		return errPrivateMembers
	}
	return checkKeyOps(m.USE, m.KEYOPS)
}

// checkKeyOps refuses a key_ops that repeats a value or names operations of
// the other use: "sign" and "verify" go with "sig", the others with "enc".
func checkKeyOps(use jwkset.USE, ops []jwkset.KEYOPS) error {
	for i, op := range ops {
		if slices.Contains(ops[:i], op) {
			return errKeyOpsTwice
		}
		sigOp := op == jwkset.KeyOpsSign || op == jwkset.KeyOpsVerify
		if (use == jwkset.UseSig && !sigOp) || (use == jwkset.UseEnc && sigOp) {
			return errUseKeyOps
		}
	}
	return nil
}

// verifyRefusal returns why a usable JWK still may not verify signatures:
// its "use" is not "sig", or it has "key_ops" without "verify".
func verifyRefusal(m jwkset.JWKMarshal) error {
	switch {
	case m.USE != "" && m.USE != jwkset.UseSig:
		return errUseNotSig
	case len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify):
		return errNoVerify
	}
	return nil
}

// skipEntry is a status line for a JWK that is never used.
func skipEntry(kid string, why error) string {
	return fmt.Sprintf("kid %q: %v", clip(kid), why)
}

// dropPrivateKeys removes from a JWK Set body the keys that publish
// private members, decoding as jwkset does (encoding/json, first value of
// the body, members matched without regard to case), so that what jwkset
// reads afterwards is exactly what was checked: jwkset itself silently
// drops an RSA "d" or CRT value published without all the others, and
// then uses the public half. A body that does not decode is passed on
// untouched, for jwkset to refuse.
func dropPrivateKeys(body []byte) (kept []byte, skipped []string) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if json.NewDecoder(bytes.NewReader(body)).Decode(&set) != nil {
		return body, nil
	}
	keep := make([]json.RawMessage, 0, len(set.Keys))
	for _, raw := range set.Keys {
		var m jwkset.JWKMarshal
		if json.Unmarshal(raw, &m) == nil {
			if names := privateMembers(m); len(names) > 0 {
				skipped = append(skipped, skipEntry(m.KID, fmt.Errorf("%w (%s)", errPrivateMembers, strings.Join(names, ", "))))
				continue
			}
		}
		keep = append(keep, raw)
	}
	if len(skipped) == 0 {
		return body, nil
	}
	out, err := json.Marshal(struct {
		Keys []json.RawMessage `json:"keys"`
	}{keep})
	if err != nil { // cannot happen: every element decoded as JSON
		return []byte(`{"keys":[]}`), skipped
	}
	return out, skipped
}
