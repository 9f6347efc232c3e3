package handlers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/releasebot/releasebot/config"
)

// GroupMembers lists the members of a Slack user group.
type GroupMembers interface {
	UserGroupMembers(ctx context.Context, group string) ([]string, error)
}

// Role is a set of people allowed to do something, and the variable that
// names them.
type Role struct {
	Who   config.Principals
	Var   string // RELEASEBOT_OPERATORS or RELEASEBOT_APPROVERS: named only when the role is empty
	Doing string // "operate release tasks", for the denial
	Name  string // "operators", for the denial; derived from Var when empty
}

// name is how a denial names the role.
func (r Role) name() string {
	if r.Name != "" {
		return r.Name
	}
	switch r.Var {
	case "RELEASEBOT_APPROVERS":
		return "approvers"
	case "RELEASEBOT_APPROVAL_ESCALATE_TO":
		return "those approvals escalate to"
	}
	return "operators"
}

// members mentions a role's groups and up to five of its users.
func (r Role) members() safe {
	var parts []string
	for _, g := range r.Who.Groups {
		if isSlackID(g) {
			parts = append(parts, "<!subteam^"+g+">")
		}
	}
	for i, u := range r.Who.Users {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(r.Who.Users)-5))
			break
		}
		parts = append(parts, string(mention(u)))
	}
	return safe(strings.Join(parts, ", "))
}

// authz decides who may do what, where.
type authz struct {
	operators Role
	approvers Role
	channels  []string
	groups    GroupMembers
	ttl       time.Duration
	now       func() time.Time

	mu    sync.Mutex
	cache map[string]groupEntry
}

type groupEntry struct {
	members map[string]bool
	fetched time.Time
}

func newAuthz(operators, approvers config.Principals, channels []string, groups GroupMembers) *authz {
	return &authz{
		operators: Role{operators, "RELEASEBOT_OPERATORS", "operate release tasks", "operators"},
		approvers: Role{approvers, "RELEASEBOT_APPROVERS", "approve or refuse", "approvers"},
		channels:  channels,
		groups:    groups,
		ttl:       time.Minute,
		now:       time.Now,
		cache:     map[string]groupEntry{},
	}
}

// channelAllowed returns a userError when commands are not accepted in channel.
func (a *authz) channelAllowed(channel string) error {
	if len(a.channels) == 0 || contains(a.channels, channel) {
		return nil
	}
	names := make([]string, len(a.channels))
	for i, c := range a.channels {
		names[i] = string(channelRef(c))
	}
	return deniedf("releasebot does not work in this channel. Use %s.", safe(strings.Join(names, ", ")))
}

// allow returns nil when user is in role, a userError saying why not
// otherwise, or the error of a failed user group lookup.
func (a *authz) allow(ctx context.Context, role Role, user string) error {
	ok, err := a.member(ctx, role.Who, user)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	if role.Who.IsEmpty() {
		return deniedf("Nobody may %s yet: ask an admin to set %s. Nothing was sent.", role.Doing, role.Var)
	}
	return deniedf("Only %s may %s (%s): ask one of them. Nothing was sent.", role.name(), role.Doing, role.members())
}

// anyOf is allow for a user in at least one of roles.
func (a *authz) anyOf(ctx context.Context, user string, roles ...Role) error {
	var names []string
	for _, r := range roles {
		ok, err := a.member(ctx, r.Who, user)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		names = append(names, r.name())
	}
	return deniedf("Only %s may do that.", strings.Join(names, " and "))
}

func (a *authz) member(ctx context.Context, p config.Principals, user string) (bool, error) {
	if p.All || contains(p.Users, user) {
		return true, nil
	}
	for _, g := range p.Groups {
		members, err := a.groupMembers(ctx, g)
		if err != nil {
			return false, fmt.Errorf("look up user group %s: %w", g, err)
		}
		if members[user] {
			return true, nil
		}
	}
	return false, nil
}

// groupMembers caches each group's members briefly, so a burst of clicks
// costs one lookup.
func (a *authz) groupMembers(ctx context.Context, group string) (map[string]bool, error) {
	a.mu.Lock()
	e, ok := a.cache[group]
	a.mu.Unlock()
	if ok && a.now().Sub(e.fetched) < a.ttl {
		return e.members, nil
	}
	users, err := a.groups.UserGroupMembers(ctx, group)
	if err != nil {
		return nil, err
	}
	members := make(map[string]bool, len(users))
	for _, u := range users {
		members[u] = true
	}
	a.mu.Lock()
	a.cache[group] = groupEntry{members: members, fetched: a.now()}
	a.mu.Unlock()
	return members, nil
}
