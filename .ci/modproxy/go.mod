// release: unpublished (a CI tool that builds a file-based module proxy
// from this checkout; see .ci/install)

module senderbound/ci/modproxy

go 1.26.0

require golang.org/x/mod v0.43.0
