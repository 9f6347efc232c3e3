package handlers

import (
	"crypto/rand"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/releasebot/releasebot/api"
)

// confirmation is a pending stop or rollback that an operator must confirm.
type confirmation struct {
	ID          string
	Action      api.Action
	PipelineID  string
	TaskName    string
	RequestedBy string
	Channel     string
	TS          string
	CreatedAt   time.Time

	Used      bool
	Confirmed bool
	UsedBy    string
	UsedAt    time.Time
}

// prompt is an approval question with its votes and, once made, its decision.
type prompt struct {
	ID           string
	PipelineID   string
	TaskName     string
	ApprovalTask string
	Channel      string
	TS           string
	AskedBy      string // empty when an approve or refuse command opened it
	AskedAt      time.Time
	Note         string
	StartedBy    string // who started the execution through releasebot, if known
	Required     int

	Approvals []string
	Comments  map[string]string // voter → comment, as typed
	deciding  string            // who holds the claim while the decision is sent upstream
	// Uncertain is set when the decision may have reached ServiceStage
	// but its answer was lost: the claim is kept, so nothing is resent.
	Uncertain string
	LastError string

	Decision    api.ApprovalType
	DecidedBy   string
	DecidedAt   time.Time
	ExecutionID string
	Status      api.Status
}

// message is what is sent upstream as the decision's comment: the one
// comment, or each voter's, in the order they voted.
func (p *prompt) message() string {
	var parts []string
	for _, u := range p.voters() {
		if c := p.Comments[u]; c != "" {
			parts = append(parts, c)
		}
	}
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	parts = parts[:0]
	for _, u := range p.voters() {
		if c := p.Comments[u]; c != "" {
			parts = append(parts, u+": "+c)
		}
	}
	return strings.Join(parts, "\n")
}

// voters lists who voted, approvers first, then whoever refused.
func (p *prompt) voters() []string {
	vs := append([]string(nil), p.Approvals...)
	if p.Decision == api.ApprovalRefuse && !contains(vs, p.DecidedBy) {
		vs = append(vs, p.DecidedBy)
	}
	if p.deciding != "" && !contains(vs, p.deciding) {
		vs = append(vs, p.deciding)
	}
	return vs
}

// AuditEntry records one command or click: who, when, where, what was sent
// upstream, and how it ended.
type AuditEntry struct {
	At         time.Time
	User       string
	Channel    string
	Verb       string
	TaskName   string
	PipelineID string
	Sent       string // the upstream request, without secrets; empty when nothing was sent
	Execution  string
	Outcome    string
}

// memory keeps confirmations, prompts and the audit log in this process.
type memory struct {
	mu        sync.Mutex
	confirms  map[string]*confirmation
	prompts   map[string]*prompt
	startedBy map[string]string // release task ID → who last started it here
	audit     []AuditEntry
	auditCap  int
}

func newMemory() *memory {
	return &memory{
		confirms:  map[string]*confirmation{},
		prompts:   map[string]*prompt{},
		startedBy: map[string]string{},
		auditCap:  1000,
	}
}

func newID() string { return rand.Text() }

func (m *memory) addAudit(e AuditEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, e)
	if len(m.audit) > m.auditCap {
		m.audit = append([]AuditEntry(nil), m.audit[len(m.audit)-m.auditCap:]...)
	}
}

// lastAudit returns up to n entries, newest first, for pipelineID ("" = all).
func (m *memory) lastAudit(n int, pipelineID string) []AuditEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []AuditEntry
	for i := len(m.audit) - 1; i >= 0 && len(out) < n; i-- {
		if pipelineID == "" || m.audit[i].PipelineID == pipelineID {
			out = append(out, m.audit[i])
		}
	}
	return out
}

func (m *memory) setStartedBy(pipelineID, user string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.startedBy[pipelineID] = user
}

func (m *memory) starter(pipelineID string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.startedBy[pipelineID]
}

func (m *memory) putConfirmation(c *confirmation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.confirms[c.ID] = c
}

func (m *memory) setConfirmationMessage(id, ts string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.confirms[id]; ok {
		c.TS = ts
	}
}

// confirmTTL is how long a confirmation can be used.
const confirmTTL = 15 * time.Minute

// takeConfirmation uses confirmation id once. It returns a userError when
// the confirmation is unknown, expired or already used.
func (m *memory) takeConfirmation(id, user string, confirmed bool, now time.Time) (confirmation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.confirms[id]
	if !ok {
		return confirmation{}, notFoundf("This confirmation is unknown to releasebot; nothing was sent. Run the command again.")
	}
	if c.Used {
		what := "cancelled"
		if c.Confirmed {
			what = "confirmed"
		}
		return confirmation{}, conflictf("Already %s by %s at %s; nothing more was sent.", what, mention(c.UsedBy), stamp(c.UsedAt))
	}
	if now.Sub(c.CreatedAt) > confirmTTL {
		return confirmation{}, conflictf("This confirmation expired; nothing was sent. Run the command again.")
	}
	c.Used, c.Confirmed, c.UsedBy, c.UsedAt = true, confirmed, user, now
	return *c, nil
}

// snapshot copies p so that callers never share its map with the store.
func snapshot(p *prompt) prompt {
	c := *p
	c.Approvals = append([]string(nil), p.Approvals...)
	c.Comments = maps.Clone(p.Comments)
	return c
}

func (m *memory) setPromptMessage(id, channel, ts string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.prompts[id]; ok {
		p.Channel, p.TS = channel, ts
	}
}

// openPrompt returns the undecided prompt for the same question as np (its
// release task and approval task), or stores np when there is none, in one
// step so that two commands at once cannot open two prompts for one question.
func (m *memory) openPrompt(np *prompt) (p prompt, created bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.prompts {
		if p.PipelineID == np.PipelineID && p.ApprovalTask == np.ApprovalTask && p.Decision == "" {
			return snapshot(p), false
		}
	}
	np.Comments = map[string]string{}
	m.prompts[np.ID] = np
	return snapshot(np), true
}

// dropPrompt forgets a prompt that was never posted.
func (m *memory) dropPrompt(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.prompts, id)
}

func (m *memory) getPrompt(id string) (prompt, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.prompts[id]
	if !ok {
		return prompt{}, false
	}
	return snapshot(p), true
}

// vote records user's decision and comment on prompt id. It returns the
// prompt as it now is and whether the caller holds the claim to send the
// decision upstream: exactly one caller gets it, the others learn who
// decided. Separation of duties applies to approvals only: anyone allowed
// to refuse may stop a release.
func (m *memory) vote(id, user string, decision api.ApprovalType, comment string, allowSelf bool) (prompt, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.prompts[id]
	if !ok {
		return prompt{}, false, notFoundf("This approval prompt is unknown to releasebot; nothing was sent.")
	}
	if p.Decision != "" {
		return snapshot(p), false, conflictf("Already %s by %s at %s; nothing more was sent.", decidedWord(p.Decision), mention(p.DecidedBy), stamp(p.DecidedAt))
	}
	if p.Uncertain != "" {
		return snapshot(p), false, conflictf("The decision %s sent may have reached ServiceStage; nothing more was sent. Check `/release status` and decide in the ServiceStage console if it is still waiting.", mention(p.Uncertain))
	}
	if p.deciding != "" {
		return snapshot(p), false, conflictf("%s is deciding this right now; nothing more was sent.", mention(p.deciding))
	}
	if decision == api.ApprovalAgree && !allowSelf && (user == p.AskedBy || user == p.StartedBy) {
		role := "asked for this approval"
		if user == p.StartedBy {
			role = "started this release"
		}
		return snapshot(p), false, deniedf("You %s, so someone else must approve it (RELEASEBOT_ALLOW_SELF_APPROVAL is off).", role)
	}
	if comment != "" {
		p.Comments[user] = comment
	}
	if decision == api.ApprovalAgree {
		if !contains(p.Approvals, user) {
			p.Approvals = append(p.Approvals, user)
		}
		if len(p.Approvals) < p.Required {
			return snapshot(p), false, nil
		}
	}
	p.deciding = user
	return snapshot(p), true, nil
}

// decided records the outcome of the claimed decision.
func (m *memory) decided(id string, decision api.ApprovalType, by string, at time.Time, e *api.Execution) prompt {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.prompts[id]
	p.deciding, p.LastError = "", ""
	p.Decision, p.DecidedBy, p.DecidedAt = decision, by, at
	p.ExecutionID, p.Status = e.ID, e.Status
	return snapshot(p)
}

// failed releases the claim after the upstream call failed for sure, so
// that the decision can be tried again.
func (m *memory) failed(id, reason string) prompt {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.prompts[id]
	p.deciding, p.LastError = "", reason
	return snapshot(p)
}

// uncertain keeps the claim after a call whose outcome is unknown.
func (m *memory) uncertain(id, reason string) prompt {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.prompts[id]
	p.Uncertain, p.LastError = p.deciding, reason
	return snapshot(p)
}

func decidedWord(d api.ApprovalType) string {
	if d == api.ApprovalRefuse {
		return "refused"
	}
	return "approved"
}
