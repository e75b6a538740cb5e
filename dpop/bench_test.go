package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkVerify measures one ES256 proof verification, all checks and
// the replay record included, with a fresh proof per iteration (made
// before the timer starts). Compare with BenchmarkFloorECDSAVerify.
func BenchmarkVerify(b *testing.B) {
	testKeys(b)
	clock := func() time.Time { return testNow }
	s, err := NewSigner(ecKey, WithSignerClock(clock))
	require.NoError(b, err)
	v, err := NewVerifier(WithClock(clock))
	require.NoError(b, err)
	req := testRequest()
	req.JKT = s.Thumbprint()
	proofs := make([]string, b.N)
	for i := range proofs {
		if proofs[i], err = s.Proof("GET", testHTU, testToken, ""); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ctx, proofs[i], req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloorECDSAVerify is the floor for BenchmarkVerify: one P-256
// signature verification with the same key, nothing else.
func BenchmarkFloorECDSAVerify(b *testing.B) {
	testKeys(b)
	digest := sha256.Sum256([]byte("signing input"))
	sig, err := ecdsa.SignASN1(rand.Reader, ecKey, digest[:])
	require.NoError(b, err)
	pub := &ecKey.PublicKey
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkNormalizeURI(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NormalizeURI("HTTPS://Resource.Example.org:443/a/%7euser/./b?q=1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignerProof(b *testing.B) {
	testKeys(b)
	s, err := NewSigner(ecKey)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Proof("GET", testHTU, testToken, ""); err != nil {
			b.Fatal(err)
		}
	}
}
