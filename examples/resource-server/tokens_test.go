package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	clientOnce sync.Once
	clientBin  string
	clientErr  error
)

// clientBinary builds examples/client beside the resource server's binary
// (TestMain removes that directory).
func clientBinary(t *testing.T) string {
	t.Helper()
	clientOnce.Do(func() {
		clientBin = filepath.Join(filepath.Dir(binary), "client")
		out, err := exec.Command("go", "build", "-o", clientBin, "../client").CombinedOutput()
		if err != nil {
			clientErr = &exec.Error{Name: "go build ../client: " + string(out), Err: err}
		}
	})
	require.NoError(t, clientErr)
	return clientBin
}

// printed is one printed command: its label (without the refusal note),
// whether it is labelled as refused, and its arguments after the program.
type printed struct {
	label   string
	refused bool
	args    []string
}

// printedCommands returns the printed commands that run prog ("go run
// ./examples/client" or "curl"), by label.
func printedCommands(t *testing.T, lines []string, prog string) map[string]printed {
	t.Helper()
	cmds := map[string]printed{}
	for _, l := range lines {
		label, cmd, ok := strings.Cut(l, ": ")
		if !ok || !strings.HasPrefix(cmd, prog+" ") {
			continue
		}
		p := printed{label: label, args: shellWords(t, strings.TrimPrefix(cmd, prog+" "))}
		if before, note, ok := strings.Cut(label, " (refused here"); ok {
			p.label, p.refused = before, true
			assert.Contains(t, note, "requires", "the refusal says why")
		}
		cmds[p.label] = p
	}
	return cmds
}

// shellWords splits a printed command line as a POSIX shell would: words
// separated by spaces, with '…' and "…" quoting (no escapes or expansions
// in what is printed).
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case '\'', '"':
			end := strings.IndexByte(s[i+1:], c)
			require.GreaterOrEqual(t, end, 0, "unbalanced quote in %q", s)
			w.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		default:
			require.NotContains(t, "\\`;&|<>*?", string(c), "unquoted shell metacharacter in %q", s)
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// runClient runs examples/client with args and returns its output and
// whether it succeeded.
func runClient(t *testing.T, args []string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, clientBinary(t), args...).CombinedOutput()
	return string(out), err == nil
}

// binding reads the binding that the API reported in the client's output
// line "GET URL -> 200 {json}".
func binding(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if _, body, ok := strings.Cut(l, " -> 200 "); ok {
			var p privateReply
			require.NoError(t, json.Unmarshal([]byte(body), &p))
			assert.Equal(t, "read:messages", p.Claims["scope"])
			return p.Binding
		}
	}
	t.Fatalf("no 200 answer in %q", out)
	return ""
}

// Labels of the printed examples/client commands.
const (
	labelBearer   = "bearer token"
	labelDPoP     = "DPoP-bound token"
	labelCert     = "certificate-bound token"
	labelMFA      = "MFA login (acr, auth_time) for /api/mfa"
	labelTransfer = "money_transfer authorization detail for /api/transfers"
)

// TestPrintedCommands runs every printed command, for each mechanism and
// requirement, as a process: each succeeds with the binding it names,
// unless it is labelled as refused, and then it is refused with 401 and a
// challenge. The /api/mfa and /api/transfers commands pass with the
// binding the API accepts; the printed curl lines do what they say.
func TestPrintedCommands(t *testing.T) {
	t.Parallel()
	certFile, keyFile, _ := serverCert(t)
	tests := []struct {
		name    string
		args    []string
		binding map[string]string // binding by label; "" for refused commands
		curl    bool              // curl lines for bearer tokens that pass
	}{
		{"plain http", nil,
			map[string]string{labelBearer: "none", labelDPoP: "dpop", labelMFA: "none", labelTransfer: "none"}, true},
		{"-tls-cert", []string{"-tls-cert", certFile, "-tls-key", keyFile},
			map[string]string{labelBearer: "none", labelDPoP: "dpop", labelCert: "mtls", labelMFA: "none", labelTransfer: "none"}, true},
		{"-tls-self-signed", []string{"-tls-self-signed"},
			map[string]string{labelBearer: "none", labelDPoP: "dpop", labelCert: "mtls", labelMFA: "none", labelTransfer: "none"}, true},
		{"dpop required with nonces", []string{"-mechanism", "dpop", "-required", "-dpop-nonce"},
			map[string]string{labelBearer: "", labelDPoP: "dpop", labelMFA: "dpop", labelTransfer: "dpop"}, false},
		{"dpop required, self-signed", []string{"-mechanism", "dpop", "-required", "-tls-self-signed"},
			map[string]string{labelBearer: "", labelDPoP: "dpop", labelCert: "", labelMFA: "dpop", labelTransfer: "dpop"}, false},
		{"dpop optional", []string{"-mechanism", "dpop"},
			map[string]string{labelBearer: "none", labelDPoP: "dpop", labelMFA: "none", labelTransfer: "none"}, true},
		{"mtls, self-signed", []string{"-mechanism", "mtls", "-tls-self-signed"},
			map[string]string{labelBearer: "", labelDPoP: "", labelCert: "mtls", labelMFA: "mtls", labelTransfer: "mtls"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, tt.args...)
			cmds := printedCommands(t, s.before, "go run ./examples/client")
			require.Len(t, cmds, len(tt.binding), "printed lines: %q", s.before)
			if _, ok := tt.binding[labelCert]; !ok {
				assert.Contains(t, s.before, "certificate-bound token: serve HTTPS (-tls-self-signed, or -tls-cert and -tls-key) to try it")
			}
			for label, want := range tt.binding {
				cmd, ok := cmds[label]
				require.True(t, ok, "no %q in %q", label, s.before)
				assert.Equal(t, want == "", cmd.refused, "%s: labelled as refused exactly when it is", label)
				out, ok := runClient(t, cmd.args)
				if want == "" {
					assert.False(t, ok, "%s: %s", label, out)
					assert.Contains(t, out, "-> 401", label)
					assert.Contains(t, out, "WWW-Authenticate: ", label)
					continue
				}
				require.True(t, ok, "%s: %s", label, out)
				assert.Equal(t, want, binding(t, out), label)
			}
			curls := printedCommands(t, s.before, "curl")
			require.Contains(t, curls, "try", "the bearer token's curl line")
			assert.Equal(t, !tt.curl, curls["try"].refused)
			if tt.curl {
				runCurls(t, s.before)
			}
			assert.NotContains(t, s.stderr.String(), "no public URL", "no warning on the normal path")
			s.stop(t, syscall.SIGTERM)
		})
	}
}

// runCurls does what each printed "try: curl" line does, with the token
// variables the lines before set, and requires a 200 with the token's
// scope: the scoped token on /api/scoped, the MFA one on /api/mfa and the
// transfer one on /api/transfers.
func runCurls(t *testing.T, lines []string) {
	t.Helper()
	vars := map[string]string{}
	paths := map[string]bool{}
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // what curl -k does
	}}
	for _, l := range lines {
		if name, value, ok := strings.Cut(l, "="); ok && strings.HasSuffix(name, "TOKEN") && !strings.Contains(name, " ") {
			vars[name] = value
			continue
		}
		cmd, ok := strings.CutPrefix(l, "try: curl ")
		if !ok {
			continue
		}
		args := shellWords(t, cmd)
		header := http.Header{}
		var target string
		for i := 0; i < len(args); i++ {
			switch args[i] {
			case "-k":
			case "-H":
				i++
				name, value, _ := strings.Cut(args[i], ": ")
				header.Set(name, os.Expand(value, func(v string) string { return vars[v] }))
			default:
				target = args[i]
			}
		}
		require.NotEmpty(t, header.Get("Authorization"), l)
		r := do(t, insecure, http.MethodGet, target, header)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", l, r.challenges())
		path, _, _ := strings.Cut(target[strings.Index(target, "/api/"):], "?")
		paths[path] = true
	}
	assert.Equal(t, map[string]bool{"/api/scoped": true, "/api/mfa": true, "/api/transfers": true}, paths)
}

// TestSelfSignedFiles: -tls-self-signed prints where the client
// certificate and key are, and the certificate-bound command uses them;
// a temporary directory goes with the server, a -tls-dir stays.
func TestSelfSignedFiles(t *testing.T) {
	t.Parallel()
	kept := filepath.Join(t.TempDir(), "tls")
	for _, dir := range []string{"", kept} {
		args := []string{"-tls-self-signed"}
		if dir != "" {
			args = append(args, "-tls-dir", dir)
		}
		s := start(t, args...)
		var cert, key string
		for _, l := range s.before {
			if rest, ok := strings.CutPrefix(l, "client certificate for mutual TLS: "); ok {
				cert, rest, _ = strings.Cut(rest, " (key ")
				key = strings.TrimSuffix(rest, ")")
			}
		}
		require.NotEmpty(t, cert, "printed lines: %q", s.before)
		if dir != "" {
			assert.Equal(t, dir, filepath.Dir(cert))
		}
		args = printedCommands(t, s.before, "go run ./examples/client")[labelCert].args
		assert.Contains(t, strings.Join(args, " "), "-cert "+cert+" -key "+key)
		files := []string{cert, key}
		for i, a := range args {
			if a == "-ca" {
				files = append(files, args[i+1])
			}
		}
		require.Len(t, files, 3)
		s.stop(t, syscall.SIGTERM)
		for _, f := range files {
			_, err := os.Stat(f)
			if dir == "" {
				assert.ErrorIs(t, err, os.ErrNotExist, f)
			} else {
				assert.NoError(t, err, f)
			}
		}
	}
}

// TestPrintedTokenCommandsOverTLS: with -tls-cert, the client's files live
// as long as the server.
func TestPrintedTokenCommandsOverTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, _ := serverCert(t)
	s := start(t, "-tls-cert", certFile, "-tls-key", keyFile)
	cmd := printedCommands(t, s.before, "go run ./examples/client")[labelCert]
	assert.Contains(t, strings.Join(cmd.args, " "), "-token-url https://")
	var files []string
	for i, a := range cmd.args {
		if a == "-cert" || a == "-key" || a == "-ca" {
			files = append(files, cmd.args[i+1])
		}
	}
	require.Len(t, files, 3)
	for _, f := range files {
		_, err := os.Stat(f)
		require.NoError(t, err, f)
	}
	s.stop(t, syscall.SIGTERM)
	for _, f := range files {
		_, err := os.Stat(f)
		assert.ErrorIs(t, err, os.ErrNotExist, f)
	}
}
