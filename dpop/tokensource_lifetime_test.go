package dpop_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/dpop"
)

// countingEndpoint answers every token request with "tok-N" and the
// members extra (for example `,"expires_in":0`), counting them.
func countingEndpoint(t *testing.T, extra string) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonAnswer(200, fmt.Sprintf(`{"access_token":"tok-%d","token_type":"DPoP"%s}`, n.Add(1), extra))(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/token", &n
}

// TestClientCredentialsTokenWithoutExpiresIn: RFC 6749 §5.1 makes
// expires_in optional. A token without it is cached as if it lived five
// minutes (so, with the default margin, four); one with expires_in 0 is
// not cached; a clock stepping backwards replaces it.
func TestClientCredentialsTokenWithoutExpiresIn(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		extra string
		steps []struct {
			step  time.Duration
			fresh bool
		}
	}{
		{"absent", "", []struct {
			step  time.Duration
			fresh bool
		}{{0, false}, {4*time.Minute - time.Nanosecond, false}, {time.Nanosecond, true}, {time.Minute, false}, {-2 * time.Minute, true}}},
		{"zero", `,"expires_in":0`, []struct {
			step  time.Duration
			fresh bool
		}{{0, true}, {time.Second, true}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url, n := countingEndpoint(t, tt.extra)
			clk := &clock{t: time.Unix(1_800_000_000, 0)}
			src, err := dpop.NewClientCredentials(url, newDPoPSigner(t), clientauth.ClientSecretPost("svc", "s"), dpop.WithTokenClock(clk.Now))
			require.NoError(t, err)
			ctx := context.Background()
			_, err = src.Token(ctx)
			require.NoError(t, err)
			want := int64(1)
			for i, s := range tt.steps {
				clk.Add(s.step)
				tok, err := src.Token(ctx)
				require.NoError(t, err)
				if s.fresh {
					want++
				}
				assert.Equal(t, fmt.Sprintf("tok-%d", want), tok, "step %d", i)
			}
			assert.Equal(t, want, n.Load())
		})
	}
}

// TestClientCredentialsAnswerSizeCapCountsWhiteSpace: the size cap applies
// to the whole answer, so a complete token answer followed by more than
// 1 MiB of white space (which a JSON reader would skip) is refused.
func TestClientCredentialsAnswerSizeCapCountsWhiteSpace(t *testing.T) {
	t.Parallel()
	answer := `{"access_token":"tok","token_type":"DPoP","expires_in":60}`
	for _, tt := range []struct {
		name string
		pad  int
		err  error
	}{
		{"at the cap", 1<<20 - len(answer), nil},
		{"one byte over", 1<<20 - len(answer) + 1, dpop.ErrTokenResponse},
		{"far over", 2 << 20, dpop.ErrTokenResponse},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(jsonAnswer(200, answer+strings.Repeat(" \n\t\r", tt.pad/4)+strings.Repeat(" ", tt.pad%4))))
			t.Cleanup(srv.Close)
			src, err := dpop.NewClientCredentials(srv.URL+"/token", newDPoPSigner(t), clientauth.ClientSecretPost("svc", "s"))
			require.NoError(t, err)
			tok, err := src.Token(context.Background())
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Contains(t, err.Error(), "over 1048576 bytes")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "tok", tok)
		})
	}
}
