// Package api is a client for Huawei Cloud ServiceStage release management (API v3).
package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/releasebot/releasebot/internal/httpbody"
)

const (
	contentType     = "application/json;charset=utf8"
	maxResponseBody = 16 << 20
)

// Client calls ServiceStage for one project. It is safe for concurrent use.
type Client struct {
	httpClient *http.Client
	pipelines  *url.URL // {endpoint}/v3/{project}/pipeline/pipelines, built once
	projectID  string
	auth       Authenticator

	timeout    time.Duration
	maxRetries int
	backoff    time.Duration
	maxBackoff time.Duration
	maxWait    time.Duration
	// sleep waits for d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// Option configures a Client.
type Option func(*Client)

// WithTimeout bounds each HTTP attempt (default 30 s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets how often a read is retried after a 429, a 5xx or a
// connection error (default 3), the first backoff (default 200 ms), and the
// longest single wait, Retry-After included (default 10 s). A read whose
// Retry-After asks for longer fails at once instead of waiting.
func WithRetries(n int, backoff, maxWait time.Duration) Option {
	return func(c *Client) {
		c.maxRetries, c.backoff, c.maxWait = n, backoff, maxWait
		c.maxBackoff = min(c.maxBackoff, maxWait)
	}
}

// NewClient returns a client for endpoint (for example
// https://servicestage.ap-southeast-1.myhuaweicloud.com) and projectID. It
// sends nothing until a method is called. httpClient nil means
// http.DefaultClient; the client uses a copy of it that never follows a
// redirect, and leaves the caller's as it is.
func NewClient(httpClient *http.Client, endpoint, projectID string, auth Authenticator, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("%w: endpoint must be an absolute http(s) URL without a query", ErrInvalidRequest)
	}
	// "host:" means the scheme's port: requests copy this URL, so it is
	// dropped here, as http.NewRequest drops it from a URL it parses.
	u.Host = strings.TrimSuffix(u.Host, ":")
	if err := ValidateID(projectID); err != nil {
		return nil, fmt.Errorf("project id: %w", err)
	}
	if auth == nil {
		return nil, fmt.Errorf("%w: no authenticator", ErrInvalidRequest)
	}
	// JoinPath escapes each element; validation has made that a no-op.
	pipelines := u.JoinPath("v3", projectID, "pipeline", "pipelines")
	if !strings.HasPrefix(pipelines.Path, "/") {
		// An endpoint without a path joins to "v3/…": String would add the
		// slash, but requests take a copy of this URL, not its text.
		pipelines.Path = "/" + pipelines.Path
		if pipelines.RawPath != "" {
			pipelines.RawPath = "/" + pipelines.RawPath
		}
	}
	c := &Client{
		httpClient: noRedirects(httpClient),
		pipelines:  pipelines,
		projectID:  projectID,
		auth:       auth,
		timeout:    30 * time.Second,
		maxRetries: 3,
		backoff:    200 * time.Millisecond,
		maxBackoff: 5 * time.Second,
		maxWait:    10 * time.Second,
		sleep:      sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// noRedirects returns a shallow copy of hc (nil: http.DefaultClient) that
// hands a 3xx back instead of following it. Followed, a redirect would carry
// X-Auth-Token, the AK/SK signature or the IAM password to an address nobody
// configured; the 3xx then becomes an *Error like any other non-2xx.
func noRedirects(hc *http.Client) *http.Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// ValidateID reports whether id may be put in a URL path: 1 to 128 letters,
// digits, '-' or '_', not starting with '-' or '_'. The error wraps
// ErrInvalidRequest and quotes at most a short prefix of id.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: %.40q is not a valid ID", ErrInvalidRequest, id)
	}
	return nil
}

// pipelinesURL returns a fresh /v3/{project}/pipeline/pipelines.
func (c *Client) pipelinesURL() *url.URL {
	u := *c.pipelines
	return &u
}

// pipelineURL builds /v3/{project}/pipeline/pipelines/{id}[/suffix] for a
// validated id and a suffix of letters. Neither needs escaping, so both
// are appended as they are: JoinPath, which escapes and cleans, was a
// tenth of what a /release start cost in the api package.
func (c *Client) pipelineURL(pipelineID, suffix string) (*url.URL, error) {
	if err := ValidateID(pipelineID); err != nil {
		return nil, fmt.Errorf("release task id: %w", err)
	}
	u := c.pipelinesURL()
	for _, elem := range []string{pipelineID, suffix} {
		if elem == "" {
			continue
		}
		u.Path += "/" + elem
		if u.RawPath != "" {
			u.RawPath += "/" + elem
		}
	}
	return u, nil
}

// call is one logical request: a method, a URL and a body, sent until it
// succeeds or may not be sent again.
type call struct {
	op     string
	method string
	url    *url.URL
	body   []byte
	// idempotent requests are retried; the POST action never is.
	idempotent bool
}

// do sends cl and returns the body of its 2xx response. Every error it returns
// is safe to print.
func (c *Client) do(ctx context.Context, cl call) ([]byte, error) {
	data, err := c.send(ctx, cl)
	if err != nil {
		return nil, &redactingError{err: err, secrets: c.auth.secrets()}
	}
	return data, nil
}

func (c *Client) send(ctx context.Context, cl call) ([]byte, error) {
	renewed := false
	for attempt := 0; ; attempt++ {
		res, err := c.attempt(ctx, cl)
		if err == nil && res.status >= 200 && res.status <= 299 {
			// An answer in hand is the outcome, even if the caller has
			// just gone: reporting a carried-out action as failed would
			// invite sending it again.
			return res.body, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
			// The caller gave up: that, not transport noise, is the cause.
			if res.mayHaveArrived && !cl.idempotent {
				return nil, fmt.Errorf("%s: %w: %w", cl.op, ErrOutcomeUnknown, ctxErr)
			}
			return nil, fmt.Errorf("%s: %w", cl.op, ctxErr)
		}
		if err == nil && res.status == http.StatusUnauthorized && !renewed {
			// The gateway rejected the credential before ServiceStage saw
			// the request, so even the action may be resent, once.
			renewed = true
			if c.auth.Renew(res.req) {
				attempt--
				continue
			}
		}
		var failure error
		switch {
		case err != nil && res.mayHaveArrived && !cl.idempotent:
			failure = fmt.Errorf("%s: %w: %w", cl.op, ErrOutcomeUnknown, err)
		case err != nil:
			failure = fmt.Errorf("%s: %w", cl.op, err)
		default:
			e := statusError(res.status, res.body)
			e.Op = cl.op
			if e.RequestID == "" {
				e.RequestID = res.requestID
			}
			e.redact(c.auth.secrets())
			failure = e
			if !cl.idempotent && mayHaveActed(res.status) {
				failure = &outcomeUnknownError{e}
			}
		}
		retryable := (err != nil && !errors.Is(err, errAuthorize)) ||
			res.status == http.StatusTooManyRequests || res.status >= 500
		if !cl.idempotent || !retryable || attempt >= c.maxRetries {
			return nil, failure
		}
		wait := max(c.backoffFor(attempt), res.retryAfter)
		if wait > c.maxWait {
			return nil, failure
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s: %w", cl.op, err)
		}
	}
}

// mayHaveActed reports whether an action answered with status may have been
// carried out all the same: a gateway that timed out or failed may have
// answered after ServiceStage acted, or instead of passing on its answer.
func mayHaveActed(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

type result struct {
	req *http.Request
	// mayHaveArrived is set once the request may have been written, that
	// is for any failure but a refused connection.
	mayHaveArrived bool
	status         int
	body           []byte
	retryAfter     time.Duration
	requestID      string
}

// errAuthorize marks a failure to obtain credentials; retrying the request
// cannot fix it (the IAM login has its own error).
var errAuthorize = errors.New("authorize")

// attempt sends one HTTP request, bounded by the client's timeout, or by
// the caller's deadline when that comes first.
func (c *Client) attempt(ctx context.Context, cl call) (result, error) {
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > c.timeout {
		// Only when the caller's deadline is later: a context and a timer
		// more per call otherwise, for a bound that could not fire first.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var body io.Reader = http.NoBody
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	// The URL is built already: a copy of it, rather than its text parsed
	// back, which cost an allocation or two per part.
	req, err := http.NewRequestWithContext(ctx, cl.method, "", body)
	if err != nil {
		return result{}, err
	}
	u := *cl.url
	req.URL, req.Host = &u, u.Host
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if err := c.auth.Authorize(ctx, req, cl.body); err != nil {
		return result{req: req}, fmt.Errorf("%w: %w", errAuthorize, err)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		var op *net.OpError
		dialFailed := errors.As(err, &op) && op.Op == "dial"
		return result{req: req, mayHaveArrived: !dialFailed}, err
	}
	defer resp.Body.Close()
	limit := int64(maxResponseBody)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		limit = maxErrorBody
	}
	data, err := httpbody.Read(resp.Body, resp.ContentLength, limit)
	if err != nil {
		return result{req: req, mayHaveArrived: true}, fmt.Errorf("read response: %w", err)
	}
	if int64(len(data)) > limit {
		if limit == maxErrorBody {
			data = data[:limit]
		} else {
			return result{req: req, mayHaveArrived: true}, fmt.Errorf("response larger than %d bytes", limit)
		}
	}
	return result{
		req:        req,
		status:     resp.StatusCode,
		body:       data,
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		requestID:  resp.Header.Get("X-Request-Id"),
	}, nil
}

// backoffFor is the wait before retry n+1: exponential and capped, with the
// upper half jittered so that replicas do not retry in step.
func (c *Client) backoffFor(n int) time.Duration {
	d := c.backoff << min(n, 16)
	if d <= 0 || d > c.maxBackoff {
		d = c.maxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// parseRetryAfter reads seconds or an HTTP date, at most a day; anything
// else is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	const limit = 24 * time.Hour
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, int(limit/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), limit)
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
