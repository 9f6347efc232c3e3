package handlers

import (
	"context"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/config"
	"github.com/releasebot/releasebot/policy"
)

// roleKind is what a role lets people do.
type roleKind int

const (
	operatorRole roleKind = iota
	approverRole
	escalationRole
)

// Rules are who may operate, approve and be escalated to for one release
// task, and how many approvals it needs: the global settings, replaced by
// the policy file's rules for that release task where it sets them.
type Rules struct {
	Operators, Approvers, EscalateTo Role
	Required                         int
}

// ruleBook applies the policy file on top of the global settings.
type ruleBook struct {
	global  Rules
	policy  *policy.Policy
	aliases map[string][]string // release task ID → its aliases
}

func newRuleBook(d Deps) *ruleBook {
	byID := map[string][]string{}
	for alias, id := range d.Aliases {
		byID[id] = append(byID[id], alias)
	}
	return &ruleBook{
		global: Rules{
			Operators:  Role{d.Operators, "RELEASEBOT_OPERATORS", "operate release tasks", "operators"},
			Approvers:  Role{d.Approvers, "RELEASEBOT_APPROVERS", "approve or refuse", "approvers"},
			EscalateTo: Role{d.EscalateTo, "RELEASEBOT_APPROVAL_ESCALATE_TO", "decide escalated approvals", "those approvals escalate to"},
			Required:   d.RequiredApprovals,
		},
		policy:  d.Policy,
		aliases: byID,
	}
}

// For returns the rules of one release task.
func (b *ruleBook) For(task api.ReleaseTask) Rules {
	r := b.global
	keys := append([]string{task.Name}, b.aliases[task.ID]...)
	rules, ok := b.policy.RulesFor(append(keys, task.ID)...)
	if !ok {
		return r
	}
	const where = "the policy file (" + "RELEASEBOT_POLICY)"
	if rules.Operators != nil {
		r.Operators = Role{config.Principals(*rules.Operators), where, r.Operators.Doing, "operators of this release task"}
	}
	if rules.Approvers != nil {
		r.Approvers = Role{config.Principals(*rules.Approvers), where, r.Approvers.Doing, "approvers of this release task"}
	}
	if rules.EscalateTo != nil {
		r.EscalateTo = Role{config.Principals(*rules.EscalateTo), where, r.EscalateTo.Doing, "those its approvals escalate to"}
	}
	if rules.RequiredApprovals > 0 {
		r.Required = rules.RequiredApprovals
	}
	return r
}

// role picks one kind of role from r.
func (r Rules) role(kind roleKind) Role {
	switch kind {
	case approverRole:
		return r.Approvers
	case escalationRole:
		return r.EscalateTo
	}
	return r.Operators
}

// mayAny reports whether user holds a role of this kind for some release
// task: checked before a release task is resolved, so that someone who may
// act on none costs no upstream read. It returns the global role's denial
// otherwise.
func (a *authz) mayAny(ctx context.Context, b *ruleBook, kind roleKind, user string) error {
	global := b.global.role(kind)
	err := a.allow(ctx, global, user)
	if err == nil || !isDenied(err) {
		return err
	}
	for _, rules := range b.policy.AllRules() {
		p := rules.Operators
		switch kind {
		case approverRole:
			p = rules.Approvers
		case escalationRole:
			p = rules.EscalateTo
		}
		if p == nil {
			continue
		}
		if ok, merr := a.member(ctx, config.Principals(*p), user); merr != nil || ok {
			return merr
		}
	}
	return err
}
