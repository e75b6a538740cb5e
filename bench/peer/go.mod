// release: unpublished (the comparison benchmark against
// auth0/go-jwt-middleware; see BENCHMARKS.md)

module github.com/senderbound/senderbound/bench/peer

go 1.26.0

replace github.com/senderbound/senderbound => ../..

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/auth0/go-jwt-middleware/v2 v2.3.1
	github.com/go-jose/go-jose/v4 v4.1.8 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.45.0 // indirect
	golang.org/x/sync v0.18.0 // indirect
	golang.org/x/time v0.16.0 // indirect
	gopkg.in/go-jose/go-jose.v2 v2.6.3 // indirect
)

require (
	github.com/senderbound/senderbound v0.1.0
	github.com/stretchr/testify v1.12.1
)

require github.com/MicahParks/keyfunc/v3 v3.9.2 // indirect
