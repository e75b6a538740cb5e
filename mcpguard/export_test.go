package mcpguard

// Internals for the tests of package mcpguard_test.
var (
	CalledTools     = calledTools
	HandoffVerifier = handoffVerifier
)

// CallName returns the tool names of calls, for tests.
func CallNames(calls []call) []string {
	var names []string
	for _, c := range calls {
		names = append(names, c.name)
	}
	return names
}
