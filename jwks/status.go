package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// IssuerStatus is a snapshot of one issuer's keys, for health endpoints and
// logs.
type IssuerStatus struct {
	// Issuer is the issuer's identifier.
	Issuer string
	// Keys is the number of usable signing keys held; 0 means the issuer's
	// tokens are refused with 503.
	Keys int
	// LastRefresh is when the keys last loaded; zero if they never did.
	LastRefresh time.Time
	// LastAttempt is when a load was last tried; zero if never.
	LastAttempt time.Time
	// LastError is the error of the last attempt; nil if it succeeded.
	LastError error
	// Skipped lists the keys of the held set that are never used, each
	// with its kid and why: it publishes private key members, or its "use"
	// and "key_ops" contradict each other (a set left with no usable key
	// is refused, and LastError names them). Any entry is the issuer's
	// misconfiguration, worth an alert: a published private key lets
	// anyone who reads the JWKS sign tokens.
	Skipped []string
}

// MarshalJSON writes the status as an object with the members issuer, keys,
// last_refresh and last_attempt (RFC 3339, omitted when zero) and
// last_error (omitted when nil), and skipped (omitted when empty).
func (s IssuerStatus) MarshalJSON() ([]byte, error) {
	type out struct {
		Issuer      string     `json:"issuer"`
		Keys        int        `json:"keys"`
		LastRefresh *time.Time `json:"last_refresh,omitempty"`
		LastAttempt *time.Time `json:"last_attempt,omitempty"`
		LastError   string     `json:"last_error,omitempty"`
		Skipped     []string   `json:"skipped,omitempty"`
	}
	o := out{Issuer: s.Issuer, Keys: s.Keys, Skipped: s.Skipped}
	if !s.LastRefresh.IsZero() {
		o.LastRefresh = &s.LastRefresh
	}
	if !s.LastAttempt.IsZero() {
		o.LastAttempt = &s.LastAttempt
	}
	if s.LastError != nil {
		o.LastError = s.LastError.Error()
	}
	return json.Marshal(o)
}

func (ik *issuerKeys) status() IssuerStatus {
	s := IssuerStatus{Issuer: ik.issuer}
	if idx := ik.store.idx.Load(); idx != nil {
		s.Keys, s.Skipped = idx.usable, slices.Clone(idx.skipped)
	}
	ik.mu.Lock()
	s.LastRefresh, s.LastAttempt, s.LastError = ik.lastSuccess, ik.lastAttempt, ik.lastErr
	ik.mu.Unlock()
	return s
}

// Status returns a snapshot of every issuer's keys: the static issuers in
// the order given, then the resolved issuers currently held, most recently
// used first. The statuses are for operators, not clients: resolved issuers
// are named by tokens, and LastError texts may name internal hosts and
// addresses, so serve them only on an internal port or behind auth (the
// first len([Keys.Issuers]) entries are the static issuers).
func (k *Keys) Status() []IssuerStatus {
	out := make([]IssuerStatus, 0, len(k.order))
	for _, iss := range k.order {
		out = append(out, k.static[iss].status())
	}
	k.mu.Lock()
	held := make([]*issuerKeys, 0, k.lru.Len())
	for el := k.lru.Front(); el != nil; el = el.Next() {
		held = append(held, el.Value.(*issuerKeys))
	}
	k.mu.Unlock()
	for _, ik := range held {
		out = append(out, ik.status())
	}
	return out
}

// Ready waits until every statically configured issuer has keys, or ctx
// ends, or an issuer without keys failed for a reason that retrying will
// not fix ([ErrPermanent]: the metadata names another issuer, a 404, a
// refused plaintext URL, a body that is not a JWK Set). It returns nil when
// all have keys; otherwise one error per issuer without keys, wrapping
// [ErrNotReady] and the reason of its last failed load (with the fix, when
// permanent), joined with ctx's error if ctx ended. Transient faults
// (connection refused, timeouts, 5xx) keep it waiting. Issuers found
// through [WithResolver] are loaded on first use and never make Keys
// unready. Ready itself fetches nothing: issuers without keys are retried
// once per rate-limit window, permanent failures included, so a later
// Ready succeeds once the issuer is fixed.
func (k *Keys) Ready(ctx context.Context) error {
	for {
		k.mu.Lock()
		changed := k.changed
		k.mu.Unlock()
		missing, permanent := k.notReady()
		if missing == nil {
			return nil
		}
		if permanent {
			return missing
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), missing)
		case <-changed:
		}
	}
}

// notReady reports the static issuers without keys, or nil, and whether
// one of them failed permanently.
func (k *Keys) notReady() (missing error, permanent bool) {
	var errs []error
	for _, iss := range k.order {
		s := k.static[iss].status()
		switch {
		case s.Keys > 0:
		case s.LastError != nil:
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrNotReady, iss, s.LastError))
			permanent = permanent || errors.Is(s.LastError, ErrPermanent)
		default:
			errs = append(errs, fmt.Errorf("%w: %s: not loaded yet", ErrNotReady, iss))
		}
	}
	return errors.Join(errs...), permanent
}
