package introspect_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/introspect"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// blockingEndpoint answers active after release is closed, counting calls.
func blockingEndpoint(release <-chan struct{}, calls *atomic.Int32) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
		return &http.Response{
			StatusCode: http.StatusOK,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       io.NopCloser(strings.NewReader(`{"active":true,"sub":"x"}`)),
			Request:    r,
		}, nil
	})}
}

func newBlockedClient(t *testing.T, client *http.Client, opts ...introspect.Option) *introspect.Client {
	t.Helper()
	opts = append([]introspect.Option{
		introspect.WithEndpoint("https://issuer.example/introspect"),
		introspect.WithClientAuth(clientauth.ClientSecretBasic(rsID, rsSecret)),
		introspect.WithHTTPClient(client),
		introspect.WithLogger(discard()),
	}, opts...)
	c, err := introspect.New(context.Background(), "https://issuer.example/", opts...)
	require.NoError(t, err)
	return c
}

// TestSingleFlight: many concurrent requests for one token wait for one
// call. The cache is off and one call at a time is allowed, so a request
// that did not join the call would either make a second call or be
// refused by the limit.
func TestSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int32
		c := newBlockedClient(t, blockingEndpoint(release, &calls), introspect.WithCache(0), introspect.WithLimits(1, 1000))
		defer c.Close()
		const n = 20
		results := make([]*introspect.Result, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { results[i], errs[i] = c.Introspect(context.Background(), "ot_same") })
		}
		synctest.Wait() // every caller is waiting
		close(release)
		wg.Wait()
		assert.Equal(t, int32(1), calls.Load())
		for i := range n {
			require.NoError(t, errs[i])
			assert.Same(t, results[0], results[i])
		}
	})
}

// TestWaiterGivesUp: a caller whose context ends stops waiting; the call
// goes on for the others.
func TestWaiterGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int32
		c := newBlockedClient(t, blockingEndpoint(release, &calls))
		defer c.Close()
		ctx, cancel := context.WithCancel(context.Background())
		var impatient, patient error
		var wg sync.WaitGroup
		wg.Go(func() { _, impatient = c.Introspect(ctx, "ot_same") })
		wg.Go(func() { _, patient = c.Introspect(context.Background(), "ot_same") })
		synctest.Wait()
		cancel()
		synctest.Wait()
		close(release)
		wg.Wait()
		require.ErrorIs(t, impatient, context.Canceled)
		require.ErrorIs(t, impatient, introspect.ErrUnavailable)
		require.NoError(t, patient)
		assert.Equal(t, int32(1), calls.Load())
	})
}

// TestCloseStopsCalls: Close ends the call in flight and waits for it; the
// waiting caller fails closed, and later calls fail with ErrClosed.
func TestCloseStopsCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		var calls atomic.Int32
		c := newBlockedClient(t, blockingEndpoint(release, &calls))
		var err error
		var wg sync.WaitGroup
		wg.Go(func() { _, err = c.Introspect(context.Background(), "ot_x") })
		synctest.Wait()
		require.NoError(t, c.Close())
		wg.Wait()
		require.ErrorIs(t, err, introspect.ErrUnavailable)
		require.ErrorIs(t, err, introspect.ErrClosed)
		_, err = c.Introspect(context.Background(), "ot_y")
		require.ErrorIs(t, err, introspect.ErrClosed)
		require.NoError(t, c.Close(), "a second Close is harmless")
	})
}
