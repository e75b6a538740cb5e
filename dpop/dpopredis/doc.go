// Package dpopredis keeps the DPoP replay cache in Redis so that a fleet of
// API instances shares it.
package dpopredis
