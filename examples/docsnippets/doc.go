// Package docsnippets holds no code: its test keeps every Go snippet of the
// repository's README.md and docs/*.md identical to code that is compiled
// and run (Examples and programs), so that what users copy cannot drift
// from what is tested. It lives in the examples module, which sees every
// module's sources and is never published.
package docsnippets
