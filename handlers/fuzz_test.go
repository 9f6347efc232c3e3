package handlers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/config"
	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
	"github.com/releasebot/releasebot/store/storetest"
)

// refusingReleases fails the test if anything is sent upstream, and lists
// nothing.
type refusingReleases struct {
	operations atomic.Int32
}

func (r *refusingReleases) ListReleaseTasks(context.Context) ([]api.ReleaseTask, error) {
	return nil, nil
}
func (r *refusingReleases) ListRecords(context.Context, string) ([]api.Record, error) {
	return nil, nil
}
func (r *refusingReleases) GetReleaseTask(context.Context, string) (*api.ReleaseTaskDetail, error) {
	return &api.ReleaseTaskDetail{}, nil
}

// countingSlack counts what the handlers send.
type countingSlack struct {
	mu                        sync.Mutex
	posts, updates, privately int
	modals                    int
}

func (s *countingSlack) Post(context.Context, string, bot.Message) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts++
	return fmt.Sprintf("1700000000.%06d", s.posts), nil
}

func (s *countingSlack) PostEphemeral(context.Context, string, string, bot.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.privately++
	return nil
}

func (s *countingSlack) Update(context.Context, string, string, bot.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates++
	return nil
}

func (s *countingSlack) OpenModal(context.Context, string, slack.ModalViewRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.modals++
	return nil
}

func (s *countingSlack) Respond(context.Context, string, bot.Message) error { return nil }

func (r *refusingReleases) Operate(context.Context, string, release.Action, *api.OperateOptions) (*api.Execution, error) {
	r.operations.Add(1)
	return nil, errors.New("no operation may reach ServiceStage")
}

// fuzzRouter is a Router where everyone may do anything, over an empty
// store: every prompt and confirmation a fuzzed click names is unknown.
func fuzzRouter(f *testing.F) (*Router, *refusingReleases, *countingSlack) {
	db, err := store.Open(context.Background(), "sqlite", storetest.DSN(f, "sqlite"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	rel := &refusingReleases{}
	sl := &countingSlack{}
	everyone := config.Principals{All: true}
	rt := New(Deps{Log: zerolog.Nop(), Releases: rel, Slack: sl, Prompts: db, Confirmations: db, Audit: db, Expiring: db, Operators: everyone, Approvers: everyone,
		AllowSelfApproval: true, Now: func() time.Time { return time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC) }})
	return rt, rel, sl
}

// FuzzHandleAction clicks buttons with forged, huge or malformed values:
// nothing may reach ServiceStage, no modal may open, and the clicker is
// always answered.
func FuzzHandleAction(f *testing.F) {
	rt, rel, sl := fuzzRouter(f)
	f.Add("approve", "AAAAAAAAAAAAAAAAAAAAAAAAAA", "approval", "U0BOB")
	f.Add("refuse", "../../x?y", "approval", "U0BOB")
	f.Add("confirm", "BBBBBBBBBBBBBBBBBBBBBBBBBB", "confirm", "W1")
	f.Add("cancel", "", "", "")
	f.Add("delete_everything", "\x00\xff<!channel>", "x", "U1")
	f.Fuzz(func(t *testing.T, actionID, value, blockID, user string) {
		before := sl.privately
		rt.HandleAction(context.Background(), bot.Action{ActionID: actionID, Value: value, BlockID: blockID,
			UserID: user, ChannelID: "C0REL", MessageTS: "1.1", TriggerID: "T1", ResponseURL: "http://127.0.0.1:1/r"})
		if n := rel.operations.Load(); n != 0 {
			t.Fatalf("%d operations reached ServiceStage", n)
		}
		if sl.modals != 0 {
			t.Fatal("a modal opened for an unknown prompt")
		}
		if sl.privately != before+1 {
			t.Fatalf("the clicker got %d replies, want 1", sl.privately-before)
		}
	})
}

// FuzzHandleSubmission submits refusal modals with forged metadata and
// reasons: nothing may reach ServiceStage.
func FuzzHandleSubmission(f *testing.F) {
	rt, rel, _ := fuzzRouter(f)
	f.Add("refuse_reason", "AAAAAAAAAAAAAAAAAAAAAAAAAA", "smoke tests fail")
	f.Add("refuse_reason", "", "")
	f.Add("other", "{\"prompt\":1}", "\x00")
	f.Fuzz(func(t *testing.T, callbackID, metadata, reason string) {
		rt.HandleSubmission(context.Background(), bot.Submission{CallbackID: callbackID, PrivateMetadata: metadata, UserID: "U0BOB",
			Values: map[string]map[string]string{blockReason: {inputReason: reason}}})
		if n := rel.operations.Load(); n != 0 {
			t.Fatalf("%d operations reached ServiceStage", n)
		}
	})
}
