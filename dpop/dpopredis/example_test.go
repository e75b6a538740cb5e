package dpopredis_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/dpop/dpopredis"
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
