package dpopredis_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/dpop/dpopredis"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
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

// A fleet of instances shares the replay cache (Redis) and the nonce
// secrets, so that a proof accepted by one instance is a replay at every
// other and a nonce issued by one is accepted by all. It needs a running
// Redis, so it is compiled but not run.
func Example_fleet() {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"redis.internal:6379"},
		ContextTimeoutEnabled: true, // required by dpopredis
	})
	defer rdb.Close()
	replays, err := dpopredis.New(rdb)
	if err != nil {
		log.Fatal(err)
	}

	// The same secrets, in the same order, on every instance: the first
	// signs new nonces, all verify. To rotate, add the new one second, then
	// move it first, then drop the old one.
	nonces, err := dpop.NewHMACNonces([][]byte{
		[]byte(os.Getenv("DPOP_NONCE_SECRET")),          // 32+ random bytes
		[]byte(os.Getenv("DPOP_NONCE_SECRET_PREVIOUS")), // during a rotation
	})
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := dpop.NewVerifier(dpop.WithReplayCache(replays), dpop.WithNonces(nonces))
	if err != nil {
		log.Fatal(err)
	}

	keys, err := jwks.New(context.Background(), jwks.WithIssuer("https://YOUR_TENANT.auth0.com/"))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	guard, err := middleware.New(keys,
		middleware.WithAudience("https://api.example.com"),
		middleware.WithProofOfPossession(middleware.MechanismDPoP, true),
		middleware.WithDPoP(verifier),
		middleware.WithPublicURL("https://api.example.com"), // behind the load balancer
	)
	if err != nil {
		log.Fatal(err)
	}
	_ = guard
}
