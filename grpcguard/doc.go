// Package grpcguard protects grpc-go servers with senderbound.
package grpcguard
