package introspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// call asks the endpoint about token once. The error matches ErrInactive,
// or ErrUnavailable with the cause; status is the answer's HTTP status (0
// when there was none).
func (c *Client) call(token string) (*Result, int, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	// RFC 7662 §2.1: token, and the hint that it is an access token.
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	h := http.Header{}
	if err := c.auth.Apply(h, form, c.endpoint); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header = h
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.jwtKeys != nil {
		req.Header.Set("Accept", jwtMediaType)
	} else {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if c.ctx.Err() != nil {
			err = ErrClosed
		}
		// *url.Error names the endpoint and the cause, never the body
		// (where the token travels).
		return nil, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResponse+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%w: reading the answer: %w", ErrUnavailable, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// RFC 7662 §2.3: our client authentication failed.
		return nil, resp.StatusCode, fmt.Errorf("%w: %w (status %d)", ErrUnavailable, ErrClientAuth, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, resp.StatusCode, fmt.Errorf("%w: %w: status %d", ErrUnavailable, ErrResponse, resp.StatusCode)
	case int64(len(body)) > c.maxResponse:
		return nil, resp.StatusCode, fmt.Errorf("%w: %w: over %d bytes", ErrUnavailable, ErrResponse, c.maxResponse)
	}
	object := body
	if c.jwtKeys != nil {
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); !strings.EqualFold(mt, jwtMediaType) {
			return nil, resp.StatusCode, fmt.Errorf("%w: %w: want a signed answer (%s)", ErrUnavailable, ErrResponse, jwtMediaType)
		}
		if object, err = c.verifyJWT(ctx, string(body)); err != nil {
			return nil, resp.StatusCode, fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrResponse, err)
		}
	}
	a, err := parseAnswer(object)
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrResponse, err)
	}
	if !a.active {
		return nil, resp.StatusCode, ErrInactive
	}
	return &Result{TokenType: a.tokenType, ExpiresAt: a.exp, object: object}, resp.StatusCode, nil
}

// errAnswer is a parse failure of an answer; the text names the member,
// never a value.
var errAnswer = errors.New("answer")
