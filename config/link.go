package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// LinkTemplate is a URL with placeholders for the IDs of an execution, such
// as RELEASEBOT_CONSOLE_URL's link to the ServiceStage console.
type LinkTemplate string

// The placeholders a LinkTemplate may hold.
var linkPlaceholders = []string{"{project_id}", "{pipeline_id}", "{execution_id}"}

var placeholderRe = regexp.MustCompile(`\{[^{}]*\}`)

// Expand returns the link with its placeholders filled in, each value
// escaped so that it stays one path segment, query value or fragment part
// and cannot end a Slack mrkdwn link; "" when t is empty.
func (t LinkTemplate) Expand(projectID, pipelineID, executionID string) string {
	if t == "" {
		return ""
	}
	return strings.NewReplacer(
		"{project_id}", url.PathEscape(projectID),
		"{pipeline_id}", url.PathEscape(pipelineID),
		"{execution_id}", url.PathEscape(executionID),
	).Replace(string(t))
}

// linkTemplate checks an http(s) URL template whose only placeholders are
// linkPlaceholders. Unlike the API URLs it may have a query and a fragment:
// consoles route on both.
func (p *problems) linkTemplate(name, v string) LinkTemplate {
	if v == "" {
		return ""
	}
	ok := true
	for _, ph := range placeholderRe.FindAllString(v, -1) {
		if !slices.Contains(linkPlaceholders, ph) {
			p.add(name, fmt.Sprintf("%s: unknown placeholder %s (known: %s)", name, ph, strings.Join(linkPlaceholders, ", ")))
			ok = false
		}
	}
	// Placeholders stand for IDs, so "x" stands in for them while the rest is checked.
	rest := placeholderRe.ReplaceAllString(v, "x")
	if strings.ContainsAny(rest, "{}") {
		p.add(name, name+": a { or } is not part of a placeholder such as {execution_id}")
		ok = false
	}
	u, err := url.Parse(rest)
	switch {
	case err != nil:
		// Not quoted: an unparsable URL cannot be redacted.
		p.add(name, name+" is not a valid URL")
	case u.User != nil:
		p.add(name, name+" must not hold a user name or password: the link is posted in Slack")
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		// Without user info the template itself holds no credentials.
		p.add(name, fmt.Sprintf("%s: %q is not an absolute http(s) URL", name, v))
	default:
		if ok {
			return LinkTemplate(v)
		}
	}
	return ""
}
