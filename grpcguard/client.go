package grpcguard

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/senderbound/senderbound/dpop"
)

// ErrCredentials reports that [Credentials] cannot be built or cannot
// authenticate a call.
var ErrCredentials = errors.New("grpcguard: cannot add credentials")

// maxRememberedTargets bounds the nonces a Credentials keeps.
const maxRememberedTargets = 256

// Credentials are [credentials.PerRPCCredentials] for DPoP: every call
// carries "authorization: DPoP <token>" and a fresh proof in "dpop", for
// htm POST and htu https://<authority>/<package.Service>/<Method>, with ath
// for the token and the last nonce the target sent. They require transport
// security. Install them with grpc.WithPerRPCCredentials and, to retry a
// unary call once when the server asks for a nonce (per-RPC credentials
// cannot retry by themselves), [Credentials.Unary] with
// grpc.WithChainUnaryInterceptor; [Credentials.Stream] with
// grpc.WithChainStreamInterceptor remembers the nonces of streaming calls.
// Credentials are safe for concurrent use.
type Credentials struct {
	signer *dpop.Signer
	source dpop.TokenSource

	mu     sync.Mutex
	nonces map[string]string // authority → last nonce
}

// NewCredentials returns Credentials that sign proofs with signer and take
// the DPoP-bound access token from source.
func NewCredentials(signer *dpop.Signer, source dpop.TokenSource) (*Credentials, error) {
	var errs []error
	if signer == nil {
		errs = append(errs, fmt.Errorf("nil signer: %w", ErrCredentials))
	}
	if source == nil {
		errs = append(errs, fmt.Errorf("nil token source: %w", ErrCredentials))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Credentials{signer: signer, source: source}, nil
}

// RequireTransportSecurity implements [credentials.PerRPCCredentials]: a
// DPoP-bound token is still a credential and never travels in clear text.
func (c *Credentials) RequireTransportSecurity() bool { return true }

// GetRequestMetadata implements [credentials.PerRPCCredentials]. uri is the
// audience grpc-go computes ("https://<authority>/<package.Service>"); the
// method comes from the call's [credentials.RequestInfo].
func (c *Credentials) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	ri, ok := credentials.RequestInfoFromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("no request info: %w", ErrCredentials)
	}
	if err := credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity); err != nil {
		return nil, fmt.Errorf("connection is not secure: %w", errors.Join(ErrCredentials, err))
	}
	if len(uri) == 0 {
		return nil, fmt.Errorf("no audience: %w", ErrCredentials)
	}
	u, err := url.Parse(uri[0])
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("audience is not a URL: %w", ErrCredentials)
	}
	authority := u.Host
	token, err := c.source.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("access token: %w", errors.Join(ErrCredentials, err))
	}
	nonce := c.nonce(authority)
	if call, ok := ctx.Value(callKey{}).(*call); ok {
		nonce = call.started(authority, nonce)
	}
	proof, err := c.signer.Proof("POST", "https://"+authority+ri.Method, token, nonce)
	if err != nil {
		return nil, fmt.Errorf("proof: %w", errors.Join(ErrCredentials, err))
	}
	return map[string]string{"authorization": "DPoP " + token, "dpop": proof}, nil
}

// Unary is a [grpc.UnaryClientInterceptor] that remembers the DPoP nonces
// servers send (dpop-nonce response metadata), and retries a call once with
// the new nonce when the server answers codes.Unauthenticated with a DPoP
// challenge carrying error="use_dpop_nonce" (RFC 9449 §8). See
// [Credentials.Stream] for streaming calls.
func (c *Credentials) Unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	cl := &call{}
	ctx = context.WithValue(ctx, callKey{}, cl)
	var header, trailer metadata.MD
	opts = append(opts, grpc.Header(&header), grpc.Trailer(&trailer))
	err := invoker(ctx, method, req, reply, cc, opts...)
	authority, used := cl.get()
	fresh := c.remember(authority, header, trailer)
	if status.Code(err) != codes.Unauthenticated || fresh == "" || fresh == used || !asksForNonce(header, trailer) {
		return err
	}
	cl.retry(fresh)
	header, trailer = nil, nil
	err = invoker(ctx, method, req, reply, cc, opts...)
	authority, _ = cl.get()
	c.remember(authority, header, trailer)
	return err
}

// Stream is a [grpc.StreamClientInterceptor] that remembers the DPoP
// nonces servers send on streaming calls, so that the next call uses them.
// A stream cannot be retried (its messages may already be consumed): a
// stream refused with use_dpop_nonce fails, and the next call carries the
// nonce. Install it with grpc.WithChainStreamInterceptor.
func (c *Credentials) Stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cl := &call{}
	s, err := streamer(context.WithValue(ctx, callKey{}, cl), desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &clientStream{ClientStream: s, creds: c, call: cl}, nil
}

// clientStream remembers the nonce of the answer once its headers or its
// status arrived.
type clientStream struct {
	grpc.ClientStream
	creds *Credentials
	call  *call
	once  sync.Once
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	s.once.Do(func() {
		// After a message or the end of the stream, Header does not block.
		header, _ := s.ClientStream.Header()
		var trailer metadata.MD
		if err != nil {
			trailer = s.ClientStream.Trailer()
		}
		authority, _ := s.call.get()
		s.creds.remember(authority, header, trailer)
	})
	return err
}

// callKey marks a call made through [Credentials.Unary] or
// [Credentials.Stream].
type callKey struct{}

// call is what the interceptor and the per-RPC credentials share about one
// call: the authority the credentials signed for, the nonce they used, and
// the nonce the retry must use.
type call struct {
	mu        sync.Mutex
	authority string
	used      string
	force     string
}

// started records an attempt for authority and returns the nonce it uses:
// the forced one on a retry, else the remembered one.
func (cl *call) started(authority, remembered string) string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.authority, cl.used = authority, remembered
	if cl.force != "" {
		cl.used = cl.force
	}
	return cl.used
}

func (cl *call) get() (authority, used string) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.authority, cl.used
}

func (cl *call) retry(nonce string) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.force = nonce
}

func (c *Credentials) nonce(authority string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nonces[authority]
}

// remember stores the dpop-nonce of an answer, if it has a valid one, for
// authority, and returns it.
func (c *Credentials) remember(authority string, mds ...metadata.MD) string {
	if authority == "" {
		return ""
	}
	var n string
	for _, md := range mds {
		if v := md.Get(headerDPoPNonce); len(v) == 1 {
			n = v[0]
		}
	}
	if !dpop.ValidNonce(n) {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nonces == nil || len(c.nonces) >= maxRememberedTargets {
		c.nonces = make(map[string]string)
	}
	c.nonces[authority] = n
	return n
}

// asksForNonce reports whether the answer carries a DPoP challenge with
// error="use_dpop_nonce" (RFC 9449 §9).
func asksForNonce(mds ...metadata.MD) bool {
	for _, md := range mds {
		for _, v := range md.Get(headerWWWAuthenticate) {
			if e, ok := ChallengeParam(v, "DPoP", "error"); ok && e == "use_dpop_nonce" {
				return true
			}
		}
	}
	return false
}

// ChallengeParam returns the value of the auth-param named param in the
// challenge for scheme within one www-authenticate value, as
// [dpop.ChallengeParam] does for HTTP. It is how a client reads the error,
// scope or algs of a rejection from [Interceptor]'s metadata.
func ChallengeParam(v, scheme, param string) (string, bool) {
	return dpop.ChallengeParam(v, scheme, param)
}
