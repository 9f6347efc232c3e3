package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// Problem is one error in a policy file. Line is 1-based, or 0 when the YAML
// parser did not say where.
type Problem struct {
	Line int
	Msg  string
}

// String renders the problem as "line N: what is wrong".
func (p Problem) String() string {
	if p.Line == 0 {
		return p.Msg
	}
	return "line " + strconv.Itoa(p.Line) + ": " + p.Msg
}

// Error lists every problem of a policy file, in line order, so that the
// file is fixed in one round.
type Error struct {
	Problems []Problem
}

// Error renders every problem in one line.
func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.String()
	}
	return "invalid policy: " + strings.Join(msgs, "; ")
}

// The most approvals a rule may require, as for RELEASEBOT_REQUIRED_APPROVALS.
const maxApprovals = 20

// cronParser reads the five standard fields, without descriptors (see the
// package comment).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// Parse reads a policy file (SPEC §8). Empty input, or only comments, is an
// empty policy. On any problem it returns a nil Policy and an *Error that
// lists every problem with its line.
func Parse(data []byte) (*Policy, error) {
	var p parser
	if p.text(data); len(p.problems) > 0 {
		return nil, p.err()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return &Policy{}, nil
	case err != nil:
		p.yamlError(err)
		return nil, p.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			line = 0 // the error text carries it, if anything does
		}
		p.add(line, "the file holds more than one YAML document")
	}
	pol := &Policy{}
	if len(doc.Content) > 0 {
		p.top(pol, doc.Content[0])
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return pol, nil
}

type parser struct {
	problems []Problem
}

func (p *parser) add(line int, msg string) { p.problems = append(p.problems, Problem{line, msg}) }

func (p *parser) addf(line int, format string, args ...any) {
	p.add(line, fmt.Sprintf(format, args...))
}

// err returns the problems in line order, each once (an alias used twice
// would report its anchor's problems twice), or nil.
func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	ps := slices.Clone(p.problems)
	slices.SortStableFunc(ps, func(a, b Problem) int { return a.Line - b.Line })
	return &Error{Problems: slices.Compact(ps)}
}

// text reports what the YAML parser would reject without a line number:
// bytes that are not UTF-8 and control characters.
func (p *parser) text(data []byte) {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		switch {
		case r == utf8.RuneError && size <= 1:
			p.add(line, "the file is not UTF-8 text")
			return
		case isBreak(r, data[size:]):
			line++
		case r < 0x20 && r != '\t' && r != '\r' && r != '\n', r == 0x7f, r >= 0x80 && r <= 0x9f && r != 0x85, r == 0xfffe, r == 0xffff:
			p.addf(line, "control character %U is not allowed", r)
			return
		}
		data = data[size:]
	}
}

// isBreak reports whether r, followed by rest, ends a line as YAML counts
// lines: LF, CR not followed by LF, NEL, and the Unicode line and paragraph
// separators.
func isBreak(r rune, rest []byte) bool {
	switch r {
	case '\n', 0x85, 0x2028, 0x2029:
		return true
	case '\r':
		return len(rest) == 0 || rest[0] != '\n'
	}
	return false
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) yamlError(err error) {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.add(line, m[2])
		return
	}
	p.add(0, strings.TrimPrefix(msg, "yaml: "))
}

// resolve follows an alias to its anchored node. Aliases are followed once
// per use and only as deep as the format goes, so nested aliases cannot make
// the work explode.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// pair is one key and its value in a mapping.
type pair struct {
	key   string
	line  int // the key's
	value *yaml.Node
}

// pairs returns the entries of a mapping, reporting a key given twice (by
// same(key), so callers choose case sensitivity) and a key that is not a
// plain value. It reports false when n is not a mapping.
func (p *parser) pairs(n *yaml.Node, what string, same func(string) string) ([]pair, bool) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.addf(n.Line, "%s must be a mapping of keys to values", what)
		return nil, false
	}
	seen := map[string]int{}
	var out []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.addf(k.Line, "a key in %s must be a plain value", what)
			continue
		}
		id := same(k.Value)
		if first, dup := seen[id]; dup {
			p.addf(k.Line, "%s is given twice in %s (first on line %d)", quote(k.Value), what, first)
			continue
		}
		seen[id] = k.Line
		out = append(out, pair{k.Value, k.Line, v})
	}
	return out, true
}

// fields is pairs for a mapping with a fixed set of keys.
func (p *parser) fields(n *yaml.Node, what string, allowed ...string) (map[string]pair, bool) {
	ps, ok := p.pairs(n, what, func(s string) string { return s })
	if !ok {
		return nil, false
	}
	m := map[string]pair{}
	for _, kv := range ps {
		if !slices.Contains(allowed, kv.key) {
			p.addf(kv.line, "unknown key %s in %s (known: %s)", quote(kv.key), what, strings.Join(allowed, ", "))
			continue
		}
		m[kv.key] = kv
	}
	return m, true
}

// scalar returns a field's value as text; what names the field in messages.
func (p *parser) scalar(n *yaml.Node, what string) (string, bool) {
	n = resolve(n)
	switch {
	case n.Kind != yaml.ScalarNode:
		p.addf(n.Line, "%s must be a single value, not a list or mapping", what)
	case isNull(n):
		p.addf(n.Line, "%s has no value", what)
	default:
		return n.Value, true
	}
	return "", false
}

// list returns a field's entries as text.
func (p *parser) list(n *yaml.Node, what, example string) ([]string, []int, bool) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.addf(n.Line, "%s must be a list such as %s", what, example)
		return nil, nil, false
	}
	items, lines := []string{}, []int{}
	ok := true
	for _, it := range n.Content {
		it = resolve(it)
		if it.Kind != yaml.ScalarNode || isNull(it) {
			p.addf(it.Line, "an entry of %s must be a single value", what)
			ok = false
			continue
		}
		items = append(items, it.Value)
		lines = append(lines, it.Line)
	}
	return items, lines, ok
}

func (p *parser) top(pol *Policy, root *yaml.Node) {
	if isNull(resolve(root)) {
		return // a file with only "---" or "~"
	}
	fs, ok := p.fields(root, "the policy file", "release_tasks", "freezes")
	if !ok {
		return
	}
	if kv, ok := fs["release_tasks"]; ok && !isNull(resolve(kv.value)) {
		pol.rules = p.releaseTasks(kv.value)
	}
	if kv, ok := fs["freezes"]; ok && !isNull(resolve(kv.value)) {
		pol.freezes = p.freezes(kv.value)
	}
}

func (p *parser) releaseTasks(n *yaml.Node) []rule {
	ps, ok := p.pairs(n, "release_tasks", strings.ToLower)
	if !ok {
		return nil
	}
	var out []rule
	for _, kv := range ps {
		if r, ok := p.rule(kv); ok {
			out = append(out, r)
		}
	}
	return out
}

func (p *parser) rule(kv pair) (rule, bool) {
	what := "release task " + quote(kv.key)
	ok := p.pattern(kv.key, kv.line, what)
	v := resolve(kv.value)
	if isNull(v) || v.Kind == yaml.MappingNode && len(v.Content) == 0 {
		p.addf(v.Line, "%s sets no rule (operators, approvers, required_approvals, escalate_to)", what)
		return rule{}, false
	}
	fs, fok := p.fields(v, what, "operators", "approvers", "required_approvals", "escalate_to")
	if !fok {
		return rule{}, false
	}
	r := Rules{Key: kv.key}
	var pok bool
	if r.Operators, pok = p.principals(fs, "operators", what); !pok {
		ok = false
	}
	if r.Approvers, pok = p.principals(fs, "approvers", what); !pok {
		ok = false
	}
	if r.EscalateTo, pok = p.principals(fs, "escalate_to", what); !pok {
		ok = false
	}
	if kv, set := fs["required_approvals"]; set {
		s, sok := p.scalar(kv.value, what+": required_approvals")
		n, err := strconv.Atoi(s)
		switch {
		case !sok:
			ok = false
		case err != nil:
			p.addf(resolve(kv.value).Line, "%s: required_approvals %s is not a whole number", what, quote(s))
			ok = false
		case n < 1 || n > maxApprovals:
			p.addf(resolve(kv.value).Line, "%s: required_approvals %d is not between 1 and %d", what, n, maxApprovals)
			ok = false
		default:
			r.RequiredApprovals = n
		}
	}
	lower := strings.ToLower(kv.key)
	return rule{pattern: lower, glob: isGlob(lower), rules: r}, ok
}

// principals reads one list of principals; nil when the field is absent.
func (p *parser) principals(fs map[string]pair, field, what string) (*Principals, bool) {
	kv, set := fs[field]
	if !set {
		return nil, true
	}
	if v := resolve(kv.value); isNull(v) {
		p.addf(v.Line, "%s: %s has no value; list who, or write [] for nobody", what, field)
		return nil, false
	}
	items, lines, ok := p.list(kv.value, what+": "+field, "[S0LEADS, U0ALICE]")
	pr := &Principals{Users: []string{}, Groups: []string{}}
	for i, it := range items {
		if !pr.Add(it) {
			p.addf(lines[i], "%s: %s: %s %s", what, field, quote(it), PrincipalProblem)
			ok = false
		}
	}
	// Empty slices only matter to tell "set" from "not set", which the
	// pointer already does; nil reads better in tests and logs.
	if len(pr.Users) == 0 {
		pr.Users = nil
	}
	if len(pr.Groups) == 0 {
		pr.Groups = nil
	}
	return pr, ok
}

func isGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// pattern checks a release task key or glob.
func (p *parser) pattern(s string, line int, what string) bool {
	if strings.TrimSpace(s) == "" {
		p.add(line, "a release task key is empty")
		return false
	}
	if _, err := path.Match(strings.ToLower(s), ""); err != nil {
		p.addf(line, "%s is not a valid glob (path.Match syntax: *, ?, [a-z], \\ to escape)", what)
		return false
	}
	return true
}

func (p *parser) freezes(n *yaml.Node) []freeze {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.add(n.Line, "freezes must be a list; each entry starts with \"- name: ...\"")
		return nil
	}
	var out []freeze
	names := map[string]int{}
	for _, item := range n.Content {
		f, ok := p.freeze(item)
		if f.name != "" {
			if first, dup := names[f.name]; dup {
				p.addf(resolve(item).Line, "freeze %s is given twice (first on line %d)", quote(f.name), first)
				ok = false
			} else {
				names[f.name] = resolve(item).Line
			}
		}
		if ok {
			out = append(out, f)
		}
	}
	return out
}

func (p *parser) freeze(n *yaml.Node) (freeze, bool) {
	n = resolve(n)
	fs, ok := p.fields(n, "a freeze", "name", "release_tasks", "cron", "duration", "timezone", "from", "to", "reason")
	if !ok {
		return freeze{}, false
	}
	f := freeze{loc: time.UTC, patterns: []string{"*"}}
	name, nameOK := p.freezeName(n, fs)
	what := "a freeze"
	if nameOK {
		f.name = name
		what = "freeze " + quote(name)
	}
	reason, reasonOK := p.freezeReason(n, fs, what)
	f.reason = reason
	ok = nameOK && reasonOK
	if kv, set := fs["release_tasks"]; set {
		var patternsOK bool
		f.patterns, patternsOK = p.freezePatterns(kv, what)
		ok = ok && patternsOK
	}
	if kv, set := fs["timezone"]; set {
		if loc, zoneOK := p.freezeZone(kv, what); zoneOK {
			f.loc = loc
		} else {
			ok = false
		}
	}
	return f, p.freezeWindow(&f, fs, n.Line, what) && ok
}

// freezeName reads a freeze's required, non-empty name.
func (p *parser) freezeName(n *yaml.Node, fs map[string]pair) (string, bool) {
	kv, set := fs["name"]
	if !set {
		p.add(n.Line, "a freeze needs a name")
		return "", false
	}
	s, ok := p.scalar(kv.value, "a freeze's name")
	if !ok {
		return "", false
	}
	if strings.TrimSpace(s) == "" {
		p.add(resolve(kv.value).Line, "a freeze's name is empty")
		return "", false
	}
	return s, true
}

// freezeReason reads a freeze's required, non-empty reason, trimmed.
func (p *parser) freezeReason(n *yaml.Node, fs map[string]pair, what string) (string, bool) {
	kv, set := fs["reason"]
	if !set {
		p.addf(n.Line, "%s needs a reason", what)
		return "", false
	}
	s, ok := p.scalar(kv.value, what+": reason")
	if !ok {
		return "", false
	}
	if strings.TrimSpace(s) == "" {
		p.addf(resolve(kv.value).Line, "%s: reason is empty", what)
		return "", false
	}
	return strings.TrimSpace(s), true
}

// freezePatterns reads the release task patterns a freeze applies to, in
// lower case; an empty list is refused, as it would freeze nothing.
func (p *parser) freezePatterns(kv pair, what string) ([]string, bool) {
	items, lines, ok := p.list(kv.value, what+": release_tasks", `["payments-*", web]`)
	if ok && len(items) == 0 {
		p.addf(resolve(kv.value).Line, "%s: release_tasks is empty; leave it out to freeze every release task", what)
		ok = false
	}
	var patterns []string
	for i, it := range items {
		if !p.pattern(it, lines[i], what+": release task "+quote(it)) {
			ok = false
		}
		patterns = append(patterns, strings.ToLower(it))
	}
	return patterns, ok
}

// freezeZone reads the time zone a freeze's times are in.
func (p *parser) freezeZone(kv pair, what string) (*time.Location, bool) {
	s, ok := p.scalar(kv.value, what+": timezone")
	if !ok {
		return nil, false
	}
	loc, err := loadZone(s)
	if err != nil {
		p.addf(resolve(kv.value).Line, "%s: %v", what, err)
		return nil, false
	}
	return loc, true
}

// freezeWindow reads when a freeze holds: either cron with duration, or
// from and to, never both.
func (p *parser) freezeWindow(f *freeze, fs map[string]pair, line int, what string) bool {
	_, hasCron := fs["cron"]
	_, hasDur := fs["duration"]
	_, hasFrom := fs["from"]
	_, hasTo := fs["to"]
	switch {
	case hasCron && (hasFrom || hasTo):
		p.addf(line, "%s has both cron and from/to; give one", what)
		return false
	case !hasCron && !hasFrom && !hasTo:
		p.addf(line, "%s needs cron with duration, or from and to", what)
		return false
	case hasCron:
		return p.cronFreeze(f, fs, hasDur, line, what)
	}
	ok := true
	if hasDur {
		p.addf(fs["duration"].line, "%s: duration goes with cron; a from/to freeze ends at to", what)
		ok = false
	}
	return p.fromTo(f, fs, hasFrom, hasTo, line, what) && ok
}

func loadZone(name string) (*time.Location, error) {
	// "" and "Local" would mean the host's zone, which differs between a
	// laptop and a container; UTC must be asked for by name.
	if strings.TrimSpace(name) == "" || name == "Local" {
		return nil, fmt.Errorf("timezone %s is not an IANA time zone such as Europe/Berlin or UTC", quote(name))
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown timezone %s (IANA names such as Europe/Berlin or UTC)", quote(name))
	}
	return loc, nil
}

func (p *parser) cronFreeze(f *freeze, fs map[string]pair, hasDur bool, line int, what string) bool {
	ok := true
	if !hasDur {
		p.addf(line, "%s: a cron freeze needs a duration, such as 62h", what)
		ok = false
	} else if s, sok := p.scalar(fs["duration"].value, what+": duration"); !sok {
		ok = false
	} else {
		d, err := time.ParseDuration(s)
		dl := resolve(fs["duration"].value).Line
		switch {
		case err != nil:
			p.addf(dl, "%s: duration %s is not a duration such as 90m or 62h", what, quote(s))
			ok = false
		case d < time.Second || d > maxDuration:
			p.addf(dl, "%s: duration %s is not between 1s and %s", what, d, maxDuration)
			ok = false
		default:
			f.dur = d
		}
	}
	spec, sok := p.scalar(fs["cron"].value, what+": cron")
	if !sok {
		return false
	}
	cl := resolve(fs["cron"].value).Line
	sched, err := parseCron(spec)
	if err != nil {
		p.addf(cl, "%s: cron %s %v", what, quote(spec), err)
		return false
	}
	sched.Location = f.loc
	// cron looks five years ahead; a schedule with no start in five years
	// from any date (February 30) never starts.
	if sched.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, f.loc)).IsZero() {
		p.addf(cl, "%s: cron %s never starts", what, quote(spec))
		return false
	}
	f.sched = sched
	return ok
}

// parseCron parses five cron fields. The zone comes from timezone only:
// cron's own "TZ=" prefix would override it (and without a space after it
// makes the cron library panic).
func parseCron(spec string) (*cron.SpecSchedule, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case strings.HasPrefix(spec, "@"):
		return nil, errors.New("uses a descriptor; write the five fields instead (@daily is 0 0 * * *)")
	case strings.HasPrefix(spec, "TZ="), strings.HasPrefix(spec, "CRON_TZ="):
		return nil, errors.New("sets its own time zone; use timezone instead")
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("is not five cron fields (minute hour day-of-month month day-of-week): %v", err)
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, errors.New("is not five cron fields")
	}
	return ss, nil
}

// timeLayouts are what from and to accept: RFC 3339, or without an offset
// to mean the freeze's time zone; "T" or a space between date and time.
var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04",
}

func parseTime(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (p *parser) fromTo(f *freeze, fs map[string]pair, hasFrom, hasTo bool, line int, what string) bool {
	if !hasFrom || !hasTo {
		p.addf(line, "%s needs both from and to", what)
		return false
	}
	ok := true
	read := func(field string) time.Time {
		s, sok := p.scalar(fs[field].value, what+": "+field)
		if !sok {
			ok = false
			return time.Time{}
		}
		t, tok := parseTime(s, f.loc)
		if !tok {
			p.addf(resolve(fs[field].value).Line, "%s: %s %s is not a time such as 2026-11-27T00:00:00Z", what, field, quote(s))
			ok = false
		}
		return t
	}
	f.from, f.to = read("from"), read("to")
	if ok && !f.from.Before(f.to) {
		p.addf(resolve(fs["to"].value).Line, "%s: from %s is not before to %s",
			what, f.from.Format(time.RFC3339), f.to.Format(time.RFC3339))
		ok = false
	}
	return ok
}

// quote quotes a value from the file for a message, clipped so that one
// long line cannot drown the others.
func quote(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return strconv.Quote(s)
}
