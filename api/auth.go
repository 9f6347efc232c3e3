package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
)

// Authenticator puts credentials on a request just before it is sent.
type Authenticator interface {
	// Authorize adds credentials to req, whose body (nil for none) is given
	// so that signing schemes can hash it.
	Authorize(ctx context.Context, req *http.Request, body []byte) error
	// Renew is told that req was rejected with 401. It reports whether
	// resending with fresh credentials may succeed.
	Renew(req *http.Request) bool
	// secrets lists the values that must never appear in an error.
	secrets() []string
}

const headerAuthToken = "X-Auth-Token"

// StaticToken sends a fixed IAM token as X-Auth-Token.
type StaticToken struct {
	token string
}

// NewStaticToken returns an Authenticator for a token obtained elsewhere.
func NewStaticToken(token string) *StaticToken { return &StaticToken{token: token} }

// Authorize sets X-Auth-Token.
func (s *StaticToken) Authorize(_ context.Context, req *http.Request, _ []byte) error {
	if s.token == "" {
		return errors.New("no token configured")
	}
	req.Header.Set(headerAuthToken, s.token)
	return nil
}

// Renew reports false: resending the same token cannot help.
func (s *StaticToken) Renew(*http.Request) bool { return false }

func (s *StaticToken) secrets() []string { return []string{s.token} }

// AKSK signs requests with an access key and secret key using Huawei Cloud's
// SDK-HMAC-SHA256 scheme, through the official SDK's signer.
type AKSK struct {
	ak, sk    string
	projectID string
	now       func() time.Time
}

// NewAKSK returns an Authenticator that signs with ak and sk. projectID, when
// set, is sent (and signed) as X-Project-Id, as the official SDK does.
func NewAKSK(ak, sk, projectID string) *AKSK {
	return &AKSK{ak: ak, sk: sk, projectID: projectID, now: time.Now}
}

// Authorize adds X-Sdk-Date, X-Project-Id and the Authorization signature.
func (a *AKSK) Authorize(_ context.Context, req *http.Request, body []byte) error {
	if a.projectID != "" {
		req.Header.Set("X-Project-Id", a.projectID)
	}
	// Setting the date ourselves makes the signed and the sent value one.
	req.Header.Set(signer.HeaderXDate, a.now().UTC().Format(signer.BasicDateFormat))

	b := request.NewHttpRequestBuilder().
		WithEndpoint(req.URL.Scheme + "://" + req.URL.Host).
		WithPath(req.URL.Path).
		WithMethod(req.Method)
	for k, vs := range req.URL.Query() {
		if len(vs) == 1 {
			b.AddQueryParam(k, reflect.ValueOf(vs[0]))
		} else {
			b.AddQueryParam(k, reflect.ValueOf(vs))
		}
	}
	b.AddHeaderParam("Host", req.URL.Host)
	for k := range req.Header {
		b.AddHeaderParam(k, req.Header.Get(k))
	}
	if len(body) > 0 {
		b.WithBody("", string(body))
	}
	headers, err := signer.Sign(b.Build(), a.ak, a.sk)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return nil
}

// Renew reports false: a signature is computed afresh for every request.
func (a *AKSK) Renew(*http.Request) bool { return false }

func (a *AKSK) secrets() []string { return []string{a.sk} }

// IAMPassword obtains a project-scoped token from IAM with a user's password,
// caches it, renews it before it expires, and lets concurrent callers share
// one renewal.
type IAMPassword struct {
	tokensURL  string
	username   string
	password   string
	domain     string
	projectID  string
	httpClient *http.Client
	timeout    time.Duration
	now        func() time.Time

	mu       sync.Mutex
	token    string
	renewAt  time.Time
	expires  time.Time
	rejected string // the last token ServiceStage refused, still a secret
	inflight *tokenCall
	// A failed login is remembered for loginBackoff, so that a wrong
	// password is not tried on every command (IAM locks users out).
	failure   error
	failureAt time.Time
}

// loginBackoff is how long a failed login is answered from memory.
const loginBackoff = 30 * time.Second

type tokenCall struct {
	done  chan struct{}
	token string
	err   error
}

// refreshMargin is how long before expiry a cached token is replaced.
const refreshMargin = 5 * time.Minute

// minTokenLife is the least life a token must have left to be sent: a
// request may take its 30 s timeout to arrive, and clocks drift.
const minTokenLife = time.Minute

// IAMCredentials are the inputs of password authentication. Endpoint is the
// IAM base URL without /v3; Domain is the account name.
type IAMCredentials struct {
	Endpoint  string
	Username  string
	Password  string
	Domain    string
	ProjectID string
}

// NewIAMPassword returns an Authenticator that logs in to IAM with creds
// through a copy of httpClient (nil: http.DefaultClient) that never follows a
// redirect, so the password goes to the configured endpoint only. Nothing is
// sent until the first request needs a token.
func NewIAMPassword(httpClient *http.Client, creds IAMCredentials) (*IAMPassword, error) {
	u, err := url.Parse(creds.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: IAM endpoint must be an absolute http(s) URL", ErrInvalidRequest)
	}
	return &IAMPassword{
		tokensURL:  u.JoinPath("v3", "auth", "tokens").String(),
		username:   creds.Username,
		password:   creds.Password,
		domain:     creds.Domain,
		projectID:  creds.ProjectID,
		httpClient: noRedirects(httpClient),
		timeout:    30 * time.Second,
		now:        time.Now,
	}, nil
}

// Authorize sets X-Auth-Token to a valid token, logging in first if needed.
func (a *IAMPassword) Authorize(ctx context.Context, req *http.Request, _ []byte) error {
	tok, err := a.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set(headerAuthToken, tok)
	return nil
}

// Renew drops the cached token if it is the one req carried, so that the next
// Authorize logs in again.
func (a *IAMPassword) Renew(req *http.Request) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && a.token == req.Header.Get(headerAuthToken) {
		a.rejected, a.token = a.token, ""
	}
	return true
}

func (a *IAMPassword) secrets() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return []string{a.password, a.token, a.rejected}
}

// Token returns a cached token, or waits for a login that one caller starts
// on behalf of all. A caller whose ctx ends stops waiting; the login goes on
// for the others, bounded by its own timeout. When the login fails, the
// cached token is still returned if it has at least a minute to live; never
// one with less.
func (a *IAMPassword) Token(ctx context.Context) (string, error) {
	a.mu.Lock()
	now := a.now()
	if a.token != "" && now.Before(a.renewAt) {
		tok := a.token
		a.mu.Unlock()
		return tok, nil
	}
	if a.failure != nil && now.Sub(a.failureAt) < loginBackoff {
		tok, err := a.fallbackLocked(now, a.failure)
		a.mu.Unlock()
		return tok, err
	}
	call := a.inflight
	if call == nil {
		call = &tokenCall{done: make(chan struct{})}
		a.inflight = call
		go a.login(call)
	}
	a.mu.Unlock()

	select {
	case <-call.done:
		if call.err == nil {
			return call.token, nil
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.fallbackLocked(a.now(), call.err)
	case <-ctx.Done():
		return "", fmt.Errorf("get IAM token: %w", ctx.Err())
	}
}

// fallbackLocked answers a caller whose renewal failed with err: the cached
// token while it has minTokenLife left, else err, saying why the cached one
// was not used. a.mu is held.
func (a *IAMPassword) fallbackLocked(now time.Time, err error) (string, error) {
	if a.token == "" {
		return "", err
	}
	if now.Before(a.expires.Add(-minTokenLife)) {
		return a.token, nil
	}
	return "", &redactingError{
		err:     fmt.Errorf("get IAM token: the cached token has less than %v left and renewing it failed: %w", minTokenLife, err),
		secrets: []string{a.password, a.token, a.rejected},
	}
}

func (a *IAMPassword) login(call *tokenCall) {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	issued := a.now()
	tok, expires, err := a.fetch(ctx)
	now := a.now()
	if err == nil && expires.Sub(now) < minTokenLife {
		// Sending it could fail mid-flight; the clock or IAM is off.
		err = fmt.Errorf("get IAM token: IAM issued a token with less than %v left (expires at %s, local time %s)",
			minTokenLife, expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}

	a.mu.Lock()
	if err == nil {
		a.token = tok
		a.renewAt = renewTime(issued, expires)
		a.expires = expires
		a.failure = nil
	} else {
		err = &redactingError{err: err, secrets: []string{a.password, tok}}
		tok = ""
		a.failure, a.failureAt = err, now
	}
	a.inflight = nil
	a.mu.Unlock()

	call.token, call.err = tok, err
	close(call.done)
}

// renewTime is when a token issued at issued and expiring at expires should
// be replaced: refreshMargin early, or half-way through a shorter life, and
// never later than minTokenLife before it expires.
func renewTime(issued, expires time.Time) time.Time {
	at := issued.Add(expires.Sub(issued) / 2)
	if expires.Sub(issued) > 2*refreshMargin {
		at = expires.Add(-refreshMargin)
	}
	if last := expires.Add(-minTokenLife); at.After(last) {
		return last
	}
	return at
}

func (a *IAMPassword) fetch(ctx context.Context) (string, time.Time, error) {
	const op = "get IAM token"
	var body struct {
		Auth struct {
			Identity struct {
				Methods  []string `json:"methods"`
				Password struct {
					User struct {
						Name     string `json:"name"`
						Password string `json:"password"`
						Domain   struct {
							Name string `json:"name"`
						} `json:"domain"`
					} `json:"user"`
				} `json:"password"`
			} `json:"identity"`
			Scope struct {
				Project struct {
					ID string `json:"id"`
				} `json:"project"`
			} `json:"scope"`
		} `json:"auth"`
	}
	body.Auth.Identity.Methods = []string{"password"}
	body.Auth.Identity.Password.User.Name = a.username
	body.Auth.Identity.Password.User.Password = a.password
	body.Auth.Identity.Password.User.Domain.Name = a.domain
	body.Auth.Scope.Project.ID = a.projectID
	payload, err := json.Marshal(body)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s: %w", op, err)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.tokensURL, bytes.NewReader(payload))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := a.httpClient.Do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s: read response: %w", op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := statusError(resp.StatusCode, data)
		e.Op = op
		e.redact([]string{a.password})
		return "", time.Time{}, e
	}
	tok := resp.Header.Get("X-Subject-Token")
	if tok == "" {
		return "", time.Time{}, fmt.Errorf("%s: response has no X-Subject-Token header", op)
	}
	return tok, decodeTokenExpiry(data, a.now()), nil
}

// decodeTokenExpiry reads token.expires_at. IAM tokens live 24 hours; when the
// expiry cannot be read the token is kept for ten minutes only, so a quirk of
// the response costs a few logins rather than a stale token.
func decodeTokenExpiry(data []byte, now time.Time) time.Time {
	var resp struct {
		Token struct {
			ExpiresAt flexString `json:"expires_at"`
		} `json:"token"`
	}
	if json.Unmarshal(data, &resp) == nil {
		if t := parseTime(strings.TrimSpace(string(resp.Token.ExpiresAt))); !t.IsZero() {
			return t
		}
	}
	return now.Add(10 * time.Minute)
}
