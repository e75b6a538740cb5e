package dpopredis_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/dpop/dpopredis"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// Example shows the cache that every instance of a fleet builds against the
// shared Redis. It needs a running Redis, so it is compiled but not run.
func Example() {
	// One address: a single node; several: Cluster; MasterName: Sentinel.
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"redis.internal:6379"},
		ContextTimeoutEnabled: true, // required: deadlines must bound each call
	})
	defer client.Close()

	replays, err := dpopredis.New(client, dpopredis.WithTimeout(200*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}

	// The DPoP verifier calls Record once per accepted proof.
	ctx := context.Background()
	key := dpop.NewReplayKey("the proof key's RFC 7638 thumbprint", "the proof's jti")
	seen, err := replays.Record(ctx, key, time.Now().Add(70*time.Second))
	switch {
	case errors.Is(err, dpop.ErrReplayCacheUnavailable):
		fmt.Println("fail closed: 503 with Retry-After")
	case seen:
		fmt.Println("replayed proof: 401 invalid_dpop_proof")
	default:
		fmt.Println("first use of this proof")
	}
}

// ExampleNew shows the client setting that New insists on.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	_, err := dpopredis.New(client)
	fmt.Println(errors.Is(err, dpopredis.ErrInvalidConfig))

	client = redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	_, err = dpopredis.New(client, dpopredis.WithKeyPrefix("orders-api:dpop:"))
	fmt.Println(err)
	// Output:
	// true
	// <nil>
}

// newVerifier is what every instance of a fleet runs at start: the
// snippet of docs/fleet.md, word for word. Example_fleet runs it,
// with REDIS_ADDRS and DPOP_NONCE_SECRET set by this package's TestMain and
// DPOP_NONCE_SECRET_PREVIOUS unset, as outside a rotation.
func newVerifier() *dpop.Verifier {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 strings.Split(os.Getenv("REDIS_ADDRS"), ","), // one: a node; several: Cluster
		ContextTimeoutEnabled: true,                                         // required by dpopredis
	})
	replays, err := dpopredis.New(rdb)
	if err != nil {
		log.Fatal(err)
	}
	nonces, err := dpop.NewHMACNonces([][]byte{
		[]byte(os.Getenv("DPOP_NONCE_SECRET")),          // 32+ random bytes, same on every instance
		[]byte(os.Getenv("DPOP_NONCE_SECRET_PREVIOUS")), // the other secret during a rotation, else empty
	})
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := dpop.NewVerifier(dpop.WithReplayCache(replays), dpop.WithNonces(nonces))
	if err != nil {
		log.Fatal(err)
	}
	return verifier
}

// A fleet of instances shares the replay cache (Redis) and the nonce
// secrets, so that a nonce issued by one instance is accepted by all and a
// proof accepted by one is a replay at every other. Here two instances, each
// built as docs/fleet.md shows, answer one client in turn.
func Example_fleet() {
	issuer, err := oauthtest.NewIssuer() // stands in for your Auth0 tenant
	if err != nil {
		log.Fatal(err)
	}
	defer issuer.Close()

	var instances []http.Handler
	for range 2 {
		keys, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(issuer.Issuer(), issuer.JWKSURL()))
		if err != nil {
			log.Fatal(err)
		}
		defer keys.Close()
		guard, err := middleware.New(keys,
			middleware.WithAudience("https://api.example.com"),
			middleware.WithProofOfPossession(middleware.MechanismDPoP, true),
			middleware.WithDPoP(newVerifier()),
			middleware.WithPublicURL("https://api.example.com"), // behind the load balancer
		)
		if err != nil {
			log.Fatal(err)
		}
		instances = append(instances, guard.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	client, err := dpop.NewSigner(key)
	if err != nil {
		log.Fatal(err)
	}
	token, err := issuer.Mint(oauthtest.Token{JKT: client.Thumbprint()})
	if err != nil {
		log.Fatal(err)
	}
	send := func(instance int, proof string) *http.Response {
		r := httptest.NewRequest(http.MethodGet, "https://api.example.com/orders", nil)
		r.Header.Set("Authorization", "DPoP "+token)
		r.Header.Set("DPoP", proof)
		w := httptest.NewRecorder()
		instances[instance].ServeHTTP(w, r)
		return w.Result()
	}
	proof := func(nonce string) string {
		p, err := client.Proof(http.MethodGet, "https://api.example.com/orders", token, nonce)
		if err != nil {
			log.Fatal(err)
		}
		return p
	}
	challenge := func(resp *http.Response) string {
		_, e, _ := strings.Cut(resp.Header.Get("WWW-Authenticate"), `error="`)
		code, _, _ := strings.Cut(e, `"`)
		return code
	}

	resp := send(0, proof(""))
	fmt.Println("instance 0, no nonce:", resp.StatusCode, challenge(resp))
	withNonce := proof(resp.Header.Get("DPoP-Nonce"))
	resp = send(1, withNonce)
	fmt.Println("instance 1, instance 0's nonce:", resp.StatusCode)
	resp = send(0, withNonce)
	fmt.Println("instance 0, the same proof again:", resp.StatusCode, challenge(resp))
	// Output:
	// instance 0, no nonce: 401 use_dpop_nonce
	// instance 1, instance 0's nonce: 200
	// instance 0, the same proof again: 401 invalid_dpop_proof
}
