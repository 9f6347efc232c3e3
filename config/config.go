// Package config reads releasebot's settings from the environment and validates all of them at once.
package config

import (
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kelseyhightower/envconfig"
	"github.com/rs/zerolog"

	"github.com/releasebot/releasebot/policy"
)

// Config is releasebot's validated configuration (SPEC §5).
type Config struct {
	SlackBotToken Secret // xoxb-...
	SlackAppToken Secret // xapp-...
	SlackAPIURL   string // always ends with "/", because slack-go appends method names to it

	// CallTimeout bounds each upstream action; zero means the handlers'
	// default (30 s). No variable sets it: tests shorten it.
	CallTimeout time.Duration

	// Sandbox runs the built-in simulated ServiceStage; Upstream is then zero.
	Sandbox bool
	// IgnoredUpstream names the upstream variables that were set but are
	// ignored because Sandbox is on, for one warning line at start-up.
	IgnoredUpstream []string
	Upstream        Upstream

	Operators Principals // may start, stop, continue, retry, roll back and ask
	Approvers Principals // may approve and refuse
	Channels  []string   // channel IDs where commands are accepted; empty means any

	Aliases       map[string]string // alias → release task ID; never nil
	ApprovalTasks map[string]string // release task name or ID → approval task name; never nil

	RequiredApprovals int
	AllowSelfApproval bool
	PollInterval      time.Duration

	DatabaseDriver string // "sqlite" or "postgres"
	// DatabaseDSN is the SQLite file path, or the whole PostgreSQL URL, which
	// may carry a password.
	DatabaseDSN Secret

	HTTPAddr  string
	LogLevel  zerolog.Level
	LogFormat string // "json" or "console"

	// Reminders, escalation and deadlines of open prompts (SPEC §8).
	ApprovalRemind        time.Duration // how often to remind; 0 means never
	ApprovalReminders     int           // reminders before escalating
	ApprovalEscalateTo    Principals    // told after the last reminder; may then decide
	ApprovalTimeout       time.Duration // an open prompt's deadline; 0 means none
	ApprovalTimeoutAction string        // TimeoutExpire or TimeoutRefuse
	ApprovalDM            bool          // remind by direct message too

	FreezeOverriders Principals // may act during a freeze with --override (SPEC §9)

	// PolicyFile is the path RELEASEBOT_POLICY names, "" when unset; Policy
	// is that file, read and validated. A nil Policy, as when PolicyFile is
	// unset, has no rules and no freezes.
	PolicyFile string
	Policy     *policy.Policy

	ConsoleURL LinkTemplate // "" when unset (SPEC §12)
}

// What an open prompt does at its deadline (RELEASEBOT_APPROVAL_TIMEOUT_ACTION).
const (
	TimeoutExpire = "expire" // close the prompt, send nothing
	TimeoutRefuse = "refuse" // send refuse, with a message saying why
)

// Upstream says where ServiceStage is and how to authenticate to it.
type Upstream struct {
	Endpoint  string // absolute http(s) URL without a trailing slash
	ProjectID string
	Auth      Auth
}

// AuthMode is how releasebot authenticates to Huawei Cloud.
type AuthMode int

// The authentication modes of SPEC §1; AuthNone only in sandbox mode.
const (
	AuthNone  AuthMode = iota
	AuthToken          // static X-Auth-Token
	AuthAKSK           // SDK-HMAC-SHA256 request signing
	AuthIAM            // IAM password login for a project-scoped token
)

// String returns a short name for logs.
func (m AuthMode) String() string {
	switch m {
	case AuthNone:
		return "none"
	case AuthToken:
		return "token"
	case AuthAKSK:
		return "aksk"
	case AuthIAM:
		return "iam"
	}
	return "AuthMode(" + strconv.Itoa(int(m)) + ")"
}

// Auth holds the credentials of the one configured mode; the other fields are empty.
type Auth struct {
	Mode AuthMode

	Token Secret // AuthToken

	AK string // AuthAKSK; the access key ID identifies the key and is not secret
	SK Secret

	IAMEndpoint string // AuthIAM; base URL without /v3 or a trailing slash
	IAMUsername string
	IAMPassword Secret
	IAMDomain   string // the account name
}

// Principals is who an authorization list admits. It is the policy file's
// type, so that rules from the file and from the environment mix without
// conversion; IsEmpty reports whether nobody is admitted, which is what an
// unset variable means.
type Principals = policy.Principals

// env is the environment as envconfig reads it. Every field is a string so
// that envconfig itself never fails: parse converts and checks them and
// reports every bad variable together. The fields follow SPEC §5's table,
// which is also the order problems are reported in.
type env struct {
	SlackBotToken     string `envconfig:"SLACK_BOT_TOKEN"`
	SlackAppToken     string `envconfig:"SLACK_APP_TOKEN"`
	SlackAPIURL       string `envconfig:"SLACK_API_URL" default:"https://slack.com/api/"`
	Endpoint          string `envconfig:"SERVICESTAGE_ENDPOINT"`
	ProjectID         string `envconfig:"HUAWEICLOUD_PROJECT_ID"`
	AuthToken         string `envconfig:"HUAWEICLOUD_AUTH_TOKEN"`
	AK                string `envconfig:"HUAWEICLOUD_SDK_AK"`
	SK                string `envconfig:"HUAWEICLOUD_SDK_SK"`
	IAMEndpoint       string `envconfig:"HUAWEICLOUD_IAM_ENDPOINT"`
	IAMUsername       string `envconfig:"HUAWEICLOUD_IAM_USERNAME"`
	IAMPassword       string `envconfig:"HUAWEICLOUD_IAM_PASSWORD"`
	IAMDomain         string `envconfig:"HUAWEICLOUD_IAM_DOMAIN"`
	Sandbox           string `envconfig:"RELEASEBOT_SANDBOX" default:"false"`
	Operators         string `envconfig:"RELEASEBOT_OPERATORS"`
	Approvers         string `envconfig:"RELEASEBOT_APPROVERS"`
	Channels          string `envconfig:"RELEASEBOT_CHANNELS"`
	Aliases           string `envconfig:"RELEASEBOT_ALIASES"`
	ApprovalTasks     string `envconfig:"RELEASEBOT_APPROVAL_TASKS"`
	RequiredApprovals string `envconfig:"RELEASEBOT_REQUIRED_APPROVALS" default:"1"`
	AllowSelfApproval string `envconfig:"RELEASEBOT_ALLOW_SELF_APPROVAL" default:"false"`
	PollInterval      string `envconfig:"RELEASEBOT_POLL_INTERVAL" default:"10s"`
	DatabaseURL       string `envconfig:"RELEASEBOT_DATABASE_URL" default:"sqlite:releasebot.db"`
	HTTPAddr          string `envconfig:"RELEASEBOT_HTTP_ADDR" default:":8080"`
	LogLevel          string `envconfig:"LOG_LEVEL" default:"info"`
	LogFormat         string `envconfig:"LOG_FORMAT" default:"json"`
	Remind            string `envconfig:"RELEASEBOT_APPROVAL_REMIND" default:"30m"`
	Reminders         string `envconfig:"RELEASEBOT_APPROVAL_REMINDERS" default:"3"`
	EscalateTo        string `envconfig:"RELEASEBOT_APPROVAL_ESCALATE_TO"`
	Timeout           string `envconfig:"RELEASEBOT_APPROVAL_TIMEOUT" default:"24h"`
	TimeoutAction     string `envconfig:"RELEASEBOT_APPROVAL_TIMEOUT_ACTION" default:"expire"`
	ApprovalDM        string `envconfig:"RELEASEBOT_APPROVAL_DM" default:"false"`
	FreezeOverriders  string `envconfig:"RELEASEBOT_FREEZE_OVERRIDERS"`
	Policy            string `envconfig:"RELEASEBOT_POLICY"`
	ConsoleURL        string `envconfig:"RELEASEBOT_CONSOLE_URL"`
}

// each calls fn with every variable's name, default and field.
func (e *env) each(fn func(name, def string, v *string)) {
	rv := reflect.ValueOf(e).Elem()
	for i := range rv.NumField() {
		tag := rv.Type().Field(i).Tag
		fn(tag.Get("envconfig"), tag.Get("default"), rv.Field(i).Addr().Interface().(*string))
	}
}

// Load reads the process environment. A bad environment gives an *Error that
// names every bad variable and holds no secret.
func Load() (Config, error) {
	var e env
	if err := envconfig.Process("", &e); err != nil {
		// Unreachable with string fields; kept so a future field cannot fail silently.
		return Config{}, fmt.Errorf("read environment: %w", err)
	}
	return parse(e)
}

// FromLookup is Load with the environment given by lookup (os.LookupEnv, or
// a map in tests). It shares Load's parsing and validation.
func FromLookup(lookup func(string) (string, bool)) (Config, error) {
	var e env
	e.each(func(name, _ string, v *string) { *v, _ = lookup(name) })
	return parse(e)
}

const (
	sandboxVar  = "RELEASEBOT_SANDBOX"
	tokenVar    = "HUAWEICLOUD_AUTH_TOKEN"
	akVar       = "HUAWEICLOUD_SDK_AK"
	skVar       = "HUAWEICLOUD_SDK_SK"
	passwordVar = "HUAWEICLOUD_IAM_PASSWORD"
)

var (
	projectIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	channelRe   = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)
	taskIDRe    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// parse converts and validates e, the one path behind Load and FromLookup.
func parse(e env) (Config, error) {
	set := normalize(&e)
	var p problems
	c := p.settings(e)
	p.upstreamUnlessSandbox(&c, e, set)
	if err := p.err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// normalize trims and defaults every value of e in place, and returns the
// values by variable name, for the checks that go by name.
func normalize(e *env) map[string]string {
	set := map[string]string{}
	e.each(func(name, def string, v *string) {
		// A password may begin or end with a space; any other value with one
		// is a copy-paste slip (a token read from a file with its newline).
		if name != passwordVar {
			*v = strings.TrimSpace(*v)
		}
		// Blank counts as unset: deploy templates often render a missing value as "".
		if strings.TrimSpace(*v) == "" {
			*v = def
		}
		set[name] = *v
	})
	return set
}

// settings converts every variable but the upstream (ServiceStage and
// Huawei Cloud) ones.
func (p *problems) settings(e env) Config {
	c := Config{
		SlackBotToken:     p.token("SLACK_BOT_TOKEN", e.SlackBotToken, "xoxb-"),
		SlackAppToken:     p.token("SLACK_APP_TOKEN", e.SlackAppToken, "xapp-"),
		Sandbox:           p.bool(sandboxVar, e.Sandbox),
		Operators:         p.principals("RELEASEBOT_OPERATORS", e.Operators),
		Approvers:         p.principals("RELEASEBOT_APPROVERS", e.Approvers),
		Channels:          p.channels("RELEASEBOT_CHANNELS", e.Channels),
		Aliases:           p.pairs("RELEASEBOT_ALIASES", e.Aliases, "alias:release-task-id", checkAlias),
		ApprovalTasks:     p.pairs("RELEASEBOT_APPROVAL_TASKS", e.ApprovalTasks, "release-task:approval-task", nil),
		RequiredApprovals: p.intRange("RELEASEBOT_REQUIRED_APPROVALS", e.RequiredApprovals, 1, 20),
		AllowSelfApproval: p.bool("RELEASEBOT_ALLOW_SELF_APPROVAL", e.AllowSelfApproval),
		PollInterval:      p.duration("RELEASEBOT_POLL_INTERVAL", e.PollInterval, time.Second, time.Hour),
		HTTPAddr:          p.addr("RELEASEBOT_HTTP_ADDR", e.HTTPAddr),
		LogLevel:          p.level("LOG_LEVEL", e.LogLevel),
		LogFormat:         p.oneOf("LOG_FORMAT", strings.ToLower(e.LogFormat), "json", "console"),

		ApprovalRemind:        p.durationOrOff("RELEASEBOT_APPROVAL_REMIND", e.Remind, time.Second, maxRemind),
		ApprovalReminders:     p.intRange("RELEASEBOT_APPROVAL_REMINDERS", e.Reminders, 0, maxReminders),
		ApprovalEscalateTo:    p.principals("RELEASEBOT_APPROVAL_ESCALATE_TO", e.EscalateTo),
		ApprovalTimeout:       p.durationOrOff("RELEASEBOT_APPROVAL_TIMEOUT", e.Timeout, time.Second, maxTimeout),
		ApprovalTimeoutAction: p.oneOf("RELEASEBOT_APPROVAL_TIMEOUT_ACTION", strings.ToLower(e.TimeoutAction), TimeoutExpire, TimeoutRefuse),
		ApprovalDM:            p.bool("RELEASEBOT_APPROVAL_DM", e.ApprovalDM),
		FreezeOverriders:      p.principals("RELEASEBOT_FREEZE_OVERRIDERS", e.FreezeOverriders),
		PolicyFile:            e.Policy,
		Policy:                p.policyFile("RELEASEBOT_POLICY", e.Policy),
		ConsoleURL:            p.linkTemplate("RELEASEBOT_CONSOLE_URL", e.ConsoleURL),
	}
	if u, ok := p.httpURL("SLACK_API_URL", e.SlackAPIURL); ok {
		c.SlackAPIURL = strings.TrimSuffix(u, "/") + "/"
	}
	c.DatabaseDriver, c.DatabaseDSN = p.database("RELEASEBOT_DATABASE_URL", e.DatabaseURL)
	return c
}

// upstreamVars are the variables that only a real ServiceStage needs.
var upstreamVars = []string{
	"SERVICESTAGE_ENDPOINT", "HUAWEICLOUD_PROJECT_ID", tokenVar, akVar, skVar,
	"HUAWEICLOUD_IAM_ENDPOINT", "HUAWEICLOUD_IAM_USERNAME", passwordVar, "HUAWEICLOUD_IAM_DOMAIN",
}

// upstreamUnlessSandbox checks the upstream variables into c, or, in the
// sandbox, lists those that are set and will be ignored.
func (p *problems) upstreamUnlessSandbox(c *Config, e env, set map[string]string) {
	if !c.Sandbox {
		c.Upstream = p.upstream(e, set)
		return
	}
	for _, name := range upstreamVars {
		if set[name] != "" {
			c.IgnoredUpstream = append(c.IgnoredUpstream, name)
		}
	}
}

func (p *problems) upstream(e env, set map[string]string) Upstream {
	const endpointVar, projectVar = "SERVICESTAGE_ENDPOINT", "HUAWEICLOUD_PROJECT_ID"
	var u Upstream
	if e.Endpoint == "" {
		p.add(endpointVar, endpointVar+" is required unless "+sandboxVar+"=true")
	} else if s, ok := p.httpURL(endpointVar, e.Endpoint); ok {
		u.Endpoint = strings.TrimRight(s, "/")
	}
	switch {
	case e.ProjectID == "":
		p.add(projectVar, projectVar+" is required unless "+sandboxVar+"=true")
	case !projectIDRe.MatchString(e.ProjectID):
		p.add(projectVar, fmt.Sprintf("%s: %q is not 1 to 64 letters, digits, '_' or '-'", projectVar, e.ProjectID))
	default:
		u.ProjectID = e.ProjectID
	}
	u.Auth = p.auth(e, set)
	return u
}

// authModes lists each authentication mode with the variables it needs.
var authModes = []struct {
	mode AuthMode
	vars []string
}{
	{AuthToken, []string{tokenVar}},
	{AuthAKSK, []string{akVar, skVar}},
	{AuthIAM, []string{"HUAWEICLOUD_IAM_ENDPOINT", "HUAWEICLOUD_IAM_USERNAME", passwordVar, "HUAWEICLOUD_IAM_DOMAIN"}},
}

// auth finds the one authentication mode. A mode counts as chosen when any
// of its variables is set, so a half-configured mode is reported as such
// rather than as "no mode".
func (p *problems) auth(e env, set map[string]string) Auth {
	chosen, given := p.chosenAuthModes(set)
	// Checked whatever else is wrong, so a bad URL is reported in the same round.
	iamEndpoint := p.iamEndpoint(e.IAMEndpoint)
	if len(chosen) == 0 {
		p.add(tokenVar, "no Huawei Cloud credentials: set one of HUAWEICLOUD_AUTH_TOKEN, "+
			"HUAWEICLOUD_SDK_AK+HUAWEICLOUD_SDK_SK, or HUAWEICLOUD_IAM_ENDPOINT+USERNAME+PASSWORD+DOMAIN "+
			"(or "+sandboxVar+"=true)")
		return Auth{}
	}
	if len(chosen) > 1 {
		p.add(given[0], fmt.Sprintf("set exactly one Huawei Cloud authentication mode, but %s are all set", and(given)))
		return Auth{}
	}
	switch chosen[0] {
	case AuthToken:
		return Auth{Mode: AuthToken, Token: Secret(e.AuthToken)}
	case AuthAKSK:
		return Auth{Mode: AuthAKSK, AK: e.AK, SK: Secret(e.SK)}
	}
	return Auth{
		Mode:        AuthIAM,
		IAMEndpoint: iamEndpoint,
		IAMUsername: e.IAMUsername,
		IAMPassword: Secret(e.IAMPassword),
		IAMDomain:   e.IAMDomain,
	}
}

// chosenAuthModes returns every mode with at least one variable set, and
// those variables; it reports each missing variable of a chosen mode.
func (p *problems) chosenAuthModes(set map[string]string) (chosen []AuthMode, given []string) {
	for _, m := range authModes {
		var have, missing []string
		for _, name := range m.vars {
			if set[name] != "" {
				have = append(have, name)
			} else {
				missing = append(missing, name)
			}
		}
		if len(have) == 0 {
			continue
		}
		chosen = append(chosen, m.mode)
		given = append(given, have...)
		for _, name := range missing {
			p.add(name, fmt.Sprintf("%s is required when %s %s set", name, and(have), isAre(have)))
		}
	}
	return chosen, given
}

// iamEndpoint checks the IAM base URL v, "" when unset or invalid.
func (p *problems) iamEndpoint(v string) string {
	if v == "" {
		return ""
	}
	// SPEC §1 defines the endpoint as the base URL without /v3, but the
	// console shows it with /v3; accept both rather than fail.
	s := strings.TrimSuffix(strings.TrimRight(v, "/"), "/v3")
	if s, ok := p.httpURL("HUAWEICLOUD_IAM_ENDPOINT", s); ok {
		return strings.TrimRight(s, "/")
	}
	return ""
}

// token checks a Slack token without ever echoing it.
func (p *problems) token(name, v, prefix string) Secret {
	switch {
	case v == "":
		p.add(name, name+" is required")
	case !strings.HasPrefix(v, prefix):
		p.add(name, fmt.Sprintf("%s must start with %q", name, prefix))
	}
	return Secret(v)
}

// httpURL checks that v is an absolute http(s) URL that paths can be appended to.
func (p *problems) httpURL(name, v string) (string, bool) {
	u, err := url.Parse(v)
	switch {
	case err != nil:
		// Not quoted: an unparsable URL cannot be redacted.
		p.add(name, name+" is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		p.add(name, fmt.Sprintf("%s: %q is not an absolute http(s) URL", name, u.Redacted()))
	case u.RawQuery != "" || u.Fragment != "":
		p.add(name, fmt.Sprintf("%s: %q must not have a query or fragment", name, u.Redacted()))
	default:
		return v, true
	}
	return "", false
}

func (p *problems) bool(name, v string) bool {
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.add(name, fmt.Sprintf("%s: %q is not true or false", name, v))
	}
	return b
}

func (p *problems) intRange(name, v string, lo, hi int) int {
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		p.add(name, fmt.Sprintf("%s: %q is not an integer", name, v))
	case n < lo || n > hi:
		p.add(name, fmt.Sprintf("%s: %d is not between %d and %d", name, n, lo, hi))
	}
	return n
}

// Bounds of the approval settings: generous, but a typo such as 30h for 30m
// in a reminder, or a deadline of a year, is caught.
const (
	maxRemind    = 7 * 24 * time.Hour
	maxReminders = 100
	maxTimeout   = 30 * 24 * time.Hour
)

func (p *problems) duration(name, v string, lo, hi time.Duration) time.Duration {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		p.add(name, fmt.Sprintf("%s: %q is not a duration", name, v))
	case d < lo || d > hi:
		p.add(name, fmt.Sprintf("%s: %s is not between %s and %s", name, d, lo, hi))
	}
	return d
}

// durationOrOff is duration for a setting that 0 turns off.
func (p *problems) durationOrOff(name, v string, lo, hi time.Duration) time.Duration {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		p.add(name, fmt.Sprintf("%s: %q is not a duration", name, v))
	case d != 0 && (d < lo || d > hi):
		p.add(name, fmt.Sprintf("%s: %s is not 0 (off) or between %s and %s", name, d, lo, hi))
	}
	return d
}

func (p *problems) addr(name, v string) string {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		p.add(name, fmt.Sprintf("%s: %q is not host:port", name, v))
		return ""
	}
	// A service name such as "http" would be looked up at listen time; a
	// number is what operators mean and what health checks are pointed at.
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		p.add(name, fmt.Sprintf("%s: port %q is not a number from 0 to 65535", name, port))
		return ""
	}
	return v
}

func (p *problems) level(name, v string) zerolog.Level {
	l, err := zerolog.ParseLevel(v)
	if err != nil {
		p.add(name, fmt.Sprintf("%s: %q is not a log level (trace, debug, info, warn, error, fatal, panic, disabled)", name, v))
	}
	return l
}

func (p *problems) oneOf(name, v string, allowed ...string) string {
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.add(name, fmt.Sprintf("%s: %q is not one of %s", name, v, strings.Join(allowed, ", ")))
	return ""
}

// database accepts sqlite:PATH and postgres:// URLs. A PostgreSQL URL is
// never quoted back: its password may sit in the userinfo or the query.
func (p *problems) database(name, v string) (driver string, dsn Secret) {
	switch {
	case strings.HasPrefix(v, "sqlite:"):
		if strings.TrimPrefix(v, "sqlite:") == "" {
			p.add(name, name+` needs a file path after "sqlite:"`)
			return "", ""
		}
		return "sqlite", Secret(strings.TrimPrefix(v, "sqlite:"))
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		u, err := url.Parse(v)
		switch {
		case err != nil:
			p.add(name, name+" is not a valid PostgreSQL URL")
		case u.Hostname() == "":
			p.add(name, name+" needs a host in its PostgreSQL URL")
		default:
			return "postgres", Secret(v)
		}
		return "", ""
	}
	p.add(name, name+` must start with "sqlite:", "postgres://" or "postgresql://"`)
	return "", ""
}

func (p *problems) principals(name, v string) Principals {
	var pr Principals
	for _, item := range list(v) {
		if !pr.Add(item) {
			p.add(name, fmt.Sprintf("%s: %q %s", name, item, policy.PrincipalProblem))
		}
	}
	return pr
}

func (p *problems) channels(name, v string) []string {
	var ids []string
	for _, item := range list(v) {
		if !channelRe.MatchString(item) {
			p.add(name, fmt.Sprintf("%s: %q is not a channel ID (C..., G..., D...)", name, item))
			continue
		}
		ids = append(ids, item)
	}
	return ids
}

// pairs parses "key:value,..." into a map; check, if given, vets each pair
// and returns what is wrong with it.
func (p *problems) pairs(name, v, form string, check func(k, v string) string) map[string]string {
	m := map[string]string{}
	for _, item := range list(v) {
		// Split at the first colon: an approval task's name may contain one.
		key, val, ok := strings.Cut(item, ":")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case !ok || key == "" || val == "":
			p.add(name, fmt.Sprintf("%s: %q is not %s", name, item, form))
			continue
		case check != nil:
			if msg := check(key, val); msg != "" {
				p.add(name, fmt.Sprintf("%s: %q %s", name, item, msg))
				continue
			}
		}
		if _, dup := m[key]; dup {
			p.add(name, fmt.Sprintf("%s: %q is given twice", name, key))
			continue
		}
		m[key] = val
	}
	return m
}

func checkAlias(alias, id string) string {
	if strings.ContainsFunc(alias, unicode.IsSpace) {
		return "has a space in its alias"
	}
	if !taskIDRe.MatchString(id) {
		return "has a release task ID that is not 1 to 128 letters, digits, '_' or '-'"
	}
	return ""
}

// list splits a comma-separated value, trimming entries and skipping empty ones.
func list(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// and joins names as "A", "A and B", "A, B and C".
func and(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func isAre(names []string) string {
	if len(names) == 1 {
		return "is"
	}
	return "are"
}
