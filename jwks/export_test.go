package jwks

import "time"

// NewRefreshWindow gives issuer's refresh rate limiter (keyfunc's, which
// reads the monotonic clock) the token of its next window at once, as if
// the window had passed.
func NewRefreshWindow(k *Keys, issuer string) {
	ik := k.static[issuer]
	if ik == nil {
		k.mu.Lock()
		if el, ok := k.dynamic[issuer]; ok {
			ik = el.Value.(*issuerKeys)
		}
		k.mu.Unlock()
	}
	ik.limiter.AllowN(time.Now().Add(k.rateEvery), 0)
}

// NewFetchCapWindow refills the global cap on loads of resolved issuers, as
// if its window had passed.
func NewFetchCapWindow(k *Keys) {
	k.fetchCap.AllowN(time.Now().Add(k.rateEvery), 0)
}
