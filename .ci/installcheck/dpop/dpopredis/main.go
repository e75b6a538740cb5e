// Command dpopredis uses the dpopredis module as a user would: a Redis
// replay cache behind a DPoP verifier. No Redis server runs here, so the
// cache must fail closed: an error, never "not seen".
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/dpop/dpopredis"
)

func main() {
	// Port 1 on loopback: nothing listens there.
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, MaxRetries: -1})
	defer client.Close()
	cache, err := dpopredis.New(client)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := dpop.NewVerifier(dpop.WithReplayCache(cache)); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	seen, err := cache.Record(ctx, dpop.ReplayKey{}, time.Now().Add(time.Minute))
	if err == nil {
		log.Fatalf("no Redis, yet Record answered seen=%v without an error", seen)
	}
	fmt.Printf("dpopredis.ReplayCache: fails closed without Redis (%v)\n", err)
}
