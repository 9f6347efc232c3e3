package sandbox

import (
	"errors"
	"fmt"
	"time"
)

// TaskSpec describes a release task (a ServiceStage "pipeline"): its identity
// and the stages an execution runs through, in order.
type TaskSpec struct {
	ID          string // UUID-like, e.g. "caf409b1-10df-483a-b14d-7b05f7e12c88"
	Name        string
	Description string
	Creator     string
	Stages      []StageSpec
}

// StageSpec is one stage of a release task; its tasks run one after another.
type StageSpec struct {
	Name  string
	Tasks []StageTask
}

// StageTask is one task of a stage.
type StageTask struct {
	Name string
	Kind TaskKind
	// Duration is how long a KindDeploy or KindFail task runs; the other kinds
	// wait for a person instead.
	Duration time.Duration
}

// TaskKind says how a stage task behaves when an execution reaches it.
type TaskKind string

// Task kinds. Except for KindFail, the value is the task type served in the
// release task details.
const (
	// KindDeploy runs for its Duration, then succeeds.
	KindDeploy TaskKind = "deploy"
	// KindApproval stops the execution at status 5 until an approval action
	// names it: agree continues, refuse fails the execution.
	KindApproval TaskKind = "manual_approval"
	// KindPause stops the execution at status 7 until a continue action.
	KindPause TaskKind = "pause"
	// KindFail runs for its Duration and fails the execution the first time
	// it runs in an execution; re-run by retry it succeeds, so the retry flow
	// can be shown end to end. It is served as a "deploy" task.
	KindFail TaskKind = "fail"
)

// wireType is the task type the details operation shows: a failing deploy
// is still a deploy as far as ServiceStage is concerned.
func (k TaskKind) wireType() string {
	if k == KindFail {
		return string(KindDeploy)
	}
	return string(k)
}

// IDs of the release tasks DemoTasks returns.
const (
	DemoWebFrontendID  = "caf409b1-10df-483a-b14d-7b05f7e12c88"
	DemoPaymentsAPIID  = "7d3e2c91-5b8a-4f6e-9c21-0a4b8e6f1d52"
	DemoLegacyBatchID  = "e1a5c7d2-3f49-4b8e-a6d0-92c4f7b1e835"
	DemoDataPipelineID = "3b9f6e20-8c1d-47a5-b2e3-5d7a0c9f4e16"

	// DemoApprovalTask is the manual-approval task of payments-api.
	DemoApprovalTask = "approve-prod"
)

// DemoTasks returns the sandbox's demo release tasks, each of which runs to
// its end within a minute of real time:
//   - web-frontend: build, then deploy; succeeds.
//   - payments-api: canary, then the approval task "approve-prod" in stage
//     gate, then production.
//   - legacy-batch: its migration task fails; retry succeeds, or roll back.
//   - data-pipeline: pauses at "verify-data" until continue.
func DemoTasks() []TaskSpec {
	const creator = "release-admin"
	return []TaskSpec{
		{
			ID:          DemoWebFrontendID,
			Name:        "web-frontend",
			Description: "Web storefront: build the image, then roll it out.",
			Creator:     creator,
			Stages: []StageSpec{
				{Name: "build", Tasks: []StageTask{{Name: "build-image", Kind: KindDeploy, Duration: 4 * time.Second}}},
				{Name: "deploy", Tasks: []StageTask{{Name: "deploy-web", Kind: KindDeploy, Duration: 4 * time.Second}}},
			},
		},
		{
			ID:          DemoPaymentsAPIID,
			Name:        "payments-api",
			Description: "Payments API: canary, manual approval, then production.",
			Creator:     creator,
			Stages: []StageSpec{
				{Name: "canary", Tasks: []StageTask{{Name: "deploy-canary", Kind: KindDeploy, Duration: 4 * time.Second}}},
				{Name: "gate", Tasks: []StageTask{{Name: DemoApprovalTask, Kind: KindApproval}}},
				{Name: "production", Tasks: []StageTask{{Name: "deploy-production", Kind: KindDeploy, Duration: 5 * time.Second}}},
			},
		},
		{
			ID:          DemoLegacyBatchID,
			Name:        "legacy-batch",
			Description: "Nightly batch jobs: the migration fails until retried.",
			Creator:     creator,
			Stages: []StageSpec{
				{Name: "prepare", Tasks: []StageTask{{Name: "backup-db", Kind: KindDeploy, Duration: 3 * time.Second}}},
				{Name: "migrate", Tasks: []StageTask{{Name: "run-migration", Kind: KindFail, Duration: 3 * time.Second}}},
				{Name: "deploy", Tasks: []StageTask{{Name: "deploy-batch", Kind: KindDeploy, Duration: 3 * time.Second}}},
			},
		},
		{
			ID:          DemoDataPipelineID,
			Name:        "data-pipeline",
			Description: "Data pipeline: pauses for a data check before publishing.",
			Creator:     creator,
			Stages: []StageSpec{
				{Name: "ingest", Tasks: []StageTask{{Name: "deploy-ingest", Kind: KindDeploy, Duration: 3 * time.Second}}},
				{Name: "checkpoint", Tasks: []StageTask{{Name: "verify-data", Kind: KindPause}}},
				{Name: "publish", Tasks: []StageTask{{Name: "deploy-publisher", Kind: KindDeploy, Duration: 3 * time.Second}}},
			},
		},
	}
}

// validateSpecs rejects release tasks the simulator could not run or that the
// real service would not accept: missing names, duplicates, empty stages.
func validateSpecs(specs []TaskSpec) error {
	ids := make(map[string]bool, len(specs))
	names := make(map[string]bool, len(specs))
	var errs []error
	for i, spec := range specs {
		where := fmt.Sprintf("release task %d (%q)", i, spec.Name)
		switch {
		case spec.ID == "":
			errs = append(errs, fmt.Errorf("%s: empty ID", where))
		case ids[spec.ID]:
			errs = append(errs, fmt.Errorf("%s: duplicate ID %q", where, spec.ID))
		}
		switch {
		case spec.Name == "":
			errs = append(errs, fmt.Errorf("%s: empty name", where))
		case names[spec.Name]:
			errs = append(errs, fmt.Errorf("%s: duplicate name", where))
		}
		ids[spec.ID], names[spec.Name] = true, true
		if len(spec.Stages) == 0 {
			errs = append(errs, fmt.Errorf("%s: no stages", where))
		}
		stages := make(map[string]bool, len(spec.Stages))
		for _, st := range spec.Stages {
			if st.Name == "" || stages[st.Name] {
				errs = append(errs, fmt.Errorf("%s: empty or duplicate stage name %q", where, st.Name))
			}
			stages[st.Name] = true
			if len(st.Tasks) == 0 {
				errs = append(errs, fmt.Errorf("%s: stage %q has no tasks", where, st.Name))
			}
			tasks := make(map[string]bool, len(st.Tasks))
			for _, t := range st.Tasks {
				if t.Name == "" || tasks[t.Name] {
					errs = append(errs, fmt.Errorf("%s: stage %q: empty or duplicate task name %q", where, st.Name, t.Name))
				}
				tasks[t.Name] = true
				switch t.Kind {
				case KindDeploy, KindApproval, KindPause, KindFail:
				default:
					errs = append(errs, fmt.Errorf("%s: task %q: unknown kind %q", where, t.Name, t.Kind))
				}
				if t.Duration < 0 {
					errs = append(errs, fmt.Errorf("%s: task %q: negative duration", where, t.Name))
				}
			}
		}
	}
	return errors.Join(errs...)
}
