package otelobserve_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine outlives them: the Guard's key
// refreshes, the test servers and the SDK's providers must all stop.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
