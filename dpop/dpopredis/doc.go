// Package dpopredis keeps the DPoP replay cache (RFC 9449 §11.1) in Redis,
// so that a fleet of API instances behind a load balancer shares it: a
// proof that one instance accepted is a replay at every other.
//
// [New] wraps a go-redis client (single node, Sentinel or Cluster, for
// example from [redis.NewUniversalClient]) in a [ReplayCache] that
// implements [dpop.ReplayCache]. Each check is one atomic round trip,
// SET key 1 NX PX ttl, where key is the prefix and the base64url encoding of
// a [dpop.ReplayKey] (a hash, so keys have a fixed size and hold no
// attacker-chosen text).
//
// # Running a fleet
//
// Every instance must share three things:
//
//   - The replay store: the same Redis deployment and the same key prefix
//     ([WithKeyPrefix]). An in-memory cache per instance would let a proof be
//     replayed once to every instance.
//   - The nonce secrets: build [dpop.HMACNonces] with the same secrets, in
//     the same order, on every instance, so that any instance checks a nonce
//     that another issued. Rotate by rolling out the new secret second in the
//     list, then first, then removing the old one. An empty second secret
//     (outside a rotation) is skipped, so the list can always be built from
//     the same two settings.
//   - Time: run NTP everywhere. An instance accepts a proof while its clock
//     reads from iat − skew to iat + window + skew. A key lives until the
//     until time the verifier passes to Record, iat + window + 2·skew + 1 ms
//     (70 s after iat with the verifier's defaults), measured from the
//     recording instance's clock; Redis's own clock plays no part. So no
//     instance whose clock lags the recording instance's by at most the
//     skew allowance can accept the proof after its key expires; one that
//     lags by more could.
//
// # When Redis is unavailable
//
// The cache fails closed. When Redis cannot be reached, does not answer
// within the timeout ([WithTimeout], default [DefaultTimeout]) or the
// request's deadline, or answers anything unexpected, Record returns an
// error wrapping [dpop.ErrReplayCacheUnavailable] and never "not seen". The
// proof is then not accepted: the middleware answers 503 Service
// Unavailable with a Retry-After header (no challenge: it is not the
// client's fault), never 2xx.
// Do not fall back to an in-memory cache: that reopens cross-instance
// replay. Once Redis answers again, the next Record succeeds; no restart is
// needed.
//
// # Redis configuration
//
//   - Build the client with ContextTimeoutEnabled: true; [New] refuses a
//     client without it, because go-redis would otherwise ignore deadlines
//     and wait for its own read timeout (seconds) on a Redis that hangs.
//   - Set maxmemory-policy to noeviction (or volatile-ttl). An allkeys-*
//     policy may evict live entries and let their proofs be replayed; with
//     noeviction a full Redis refuses writes, and the cache fails closed.
//   - Persistence is not needed: an entry lives about a minute. But a node
//     that restarts empty has forgotten its entries; see "Failover and
//     restarts".
//   - Size: each entry takes about 165 bytes with the default prefix
//     (measured on Redis 7), for at most window + 3·skew (75 s with the
//     verifier's defaults: iat may be skew in the future); 10,000 accepted
//     proofs per second need about 125 MB.
//   - On Redis Cluster, keys spread over all slots; keep hash tags ({…})
//     out of the prefix. Set cluster-require-full-coverage no: while one
//     master is down its keys fail closed, and the other masters keep
//     serving theirs (with the default, yes, the whole cluster refuses
//     writes, and every DPoP request answers 503).
//
// # Failover and restarts
//
// Redis replicates asynchronously: a master confirms SET before its
// replicas have the key. If it fails in that moment and a replica takes
// over, the new master does not know the key, and the proof can be
// accepted once more, at any instance, until its window ends (about 70 s
// after iat with the verifier's defaults). A node that restarts without its
// data (persistence off) has forgotten all its entries the same way. Outside these moments
// the cache is exact, and a master that is down fails closed: the requests
// whose keys it holds answer 503, never 2xx.
//
// Where one more acceptance of a proof captured in the last moments before
// a failover matters, [WithReplicaAck] makes Record wait until n replicas
// acknowledged each new key (WAIT n timeout) and fail closed when fewer did.
// A proof is then accepted only once its key is on the master and n
// replicas, and a failover to any of those replicas keeps it. The price: one
// replication round trip per accepted proof (about doubling Record's
// latency on loopback; docs/fleet.md gives the measured figures), and 503s
// whenever fewer than n replicas of a master are connected, so run n+1
// replicas per master if one may be down for maintenance, and let a master
// that fails come back as a replica rather than restart it empty while it
// still serves slots. WAIT does not make Redis strongly consistent: with
// more replicas than n, a failover may still promote one that had not
// acknowledged; set n to the number of replicas for the full guarantee.
//
// [redis.NewUniversalClient]: https://pkg.go.dev/github.com/redis/go-redis/v9#NewUniversalClient
package dpopredis
