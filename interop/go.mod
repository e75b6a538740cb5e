module github.com/senderbound/senderbound/interop

go 1.26.0

require (
	github.com/senderbound/senderbound v0.1.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
)

require (
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace github.com/senderbound/senderbound => ../
