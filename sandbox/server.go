// Package sandbox simulates ServiceStage's release management API (v3) over HTTP, for demos and tests.
package sandbox

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Error codes the simulator answers with, in the body's error_code.
const (
	CodeUnauthorized     = "APIGW.0301"      // 401: X-Auth-Token missing or wrong
	CodeNoSuchAPI        = "APIGW.0101"      // 404: no such path
	CodeBadRequest       = "SVCSTG.00100400" // 400: malformed or invalid request
	CodeNotFound         = "SVCSTG.00100404" // 404: unknown project or release task
	CodeMethodNotAllowed = "SVCSTG.00100405" // 405
	CodeInvalidStatus    = "SVCSTG.00100409" // 400: action not allowed in the execution's status
	CodeTooLarge         = "SVCSTG.00100413" // 413: request body over MaxBodyBytes
)

// MaxBodyBytes caps the body of an action request.
const MaxBodyBytes = 64 << 10

// FirstExecutionID is the ID of the first execution the simulator starts;
// later ones count up from it.
const FirstExecutionID = 286541

const contentType = "application/json;charset=utf8"

// noSuchAPI is the API gateway's answer to a path it does not route.
const noSuchAPI = "The API does not exist or has not been published in the environment"

// Actions, as the action_id query parameter names them.
const (
	actionStart    = "start"
	actionStop     = "stop"
	actionContinue = "continue"
	actionRetry    = "retry"
	actionRollback = "rollback"
	actionApproval = "approval"

	approvalAgree  = "agree"
	approvalRefuse = "refuse"
)

var actions = []string{actionStart, actionStop, actionContinue, actionRetry, actionRollback, actionApproval}

// Options configures a Server.
type Options struct {
	// ProjectID is required: requests for another project get 404.
	ProjectID string
	// Token is required: X-Auth-Token must equal it, else 401.
	Token string
	// Clock is the simulator's time; nil means the real clock.
	Clock Clock
	// Tasks are the release tasks served; nil means DemoTasks().
	Tasks []TaskSpec
	// User is recorded as the trigger of executions; empty means "sandbox-user".
	User string
}

// Server is a simulated ServiceStage release management endpoint. It is an
// http.Handler and safe for concurrent use. Executions advance with its
// Clock, computed when a request arrives, so nothing runs between requests.
type Server struct {
	projectID string
	token     []byte
	clock     Clock
	user      string

	// specs, byID and created never change after New.
	specs   []TaskSpec
	byID    map[string]int // release task ID → index in specs
	created []time.Time    // creation time of each release task

	mu       sync.Mutex
	execs    map[string][]*execution
	nextID   int64
	requests map[string]int
}

// New returns a Server for opts. It fails when ProjectID or Token is empty or
// a release task is malformed (no stages, duplicate names, unknown kinds).
func New(opts Options) (*Server, error) {
	var errs []error
	if opts.ProjectID == "" {
		errs = append(errs, errors.New("project ID is required"))
	}
	if opts.Token == "" {
		errs = append(errs, errors.New("token is required"))
	}
	specs := opts.Tasks
	if specs == nil {
		specs = DemoTasks()
	}
	errs = append(errs, validateSpecs(specs))
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &Server{
		projectID: opts.ProjectID,
		token:     []byte(opts.Token),
		clock:     opts.Clock,
		user:      opts.User,
		specs:     slices.Clone(specs),
		byID:      make(map[string]int, len(specs)),
		execs:     make(map[string][]*execution),
		nextID:    FirstExecutionID,
		requests:  make(map[string]int),
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.user == "" {
		s.user = "sandbox-user"
	}
	// Release tasks look as if they had been created on consecutive days.
	now := s.clock.Now().Truncate(time.Millisecond)
	for i, spec := range s.specs {
		// Copy the stages too, so the caller's later edits cannot reach us.
		spec.Stages = slices.Clone(spec.Stages)
		for j := range spec.Stages {
			spec.Stages[j].Tasks = slices.Clone(spec.Stages[j].Tasks)
		}
		s.specs[i] = spec
		s.byID[spec.ID] = i
		s.created = append(s.created, now.Add(-time.Duration(len(s.specs)-i)*24*time.Hour))
	}
	return s, nil
}

// Requests reports how many requests the simulator has served, by operation:
// "list", "get", "records" and "action" (also "action:start" and the like
// for each valid action_id), and by rejection: "unauthorized", "notfound"
// (no such path or project) and "badmethod". A request counts once, under
// its operation, whatever its outcome.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		counts[k] = v
	}
	return counts
}

// Execution returns a snapshot of the execution id of release task
// pipelineID, advanced to the clock's now.
func (s *Server) Execution(pipelineID string, id int64) (ExecutionView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for _, e := range s.execs[pipelineID] {
		if e.id == id {
			e.advance(now)
			return e.view(), true
		}
	}
	return ExecutionView{}, false
}

// LatestExecution returns a snapshot of the newest execution of release task
// pipelineID, advanced to the clock's now, and false if it never ran.
func (s *Server) LatestExecution(pipelineID string) (ExecutionView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.latest(pipelineID, s.clock.Now())
	if e == nil {
		return ExecutionView{}, false
	}
	return e.view(), true
}

// latest returns the newest execution of pipelineID advanced to now, or nil.
// Only the newest one can still be moving: start refuses to run beside it.
func (s *Server) latest(pipelineID string, now time.Time) *execution {
	runs := s.execs[pipelineID]
	if len(runs) == 0 {
		return nil
	}
	e := runs[len(runs)-1]
	e.advance(now)
	return e
}

// ServeHTTP answers the release management operations under
// /v3/{project_id}/pipeline/pipelines.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The real gateway authenticates before it routes, so do the same.
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Auth-Token")), s.token) != 1 {
		s.count("unauthorized")
		msg := "Incorrect IAM authentication information: decrypt token fail"
		if r.Header.Get("X-Auth-Token") == "" {
			msg = "Incorrect IAM authentication information: x-auth-token not found"
		}
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, msg)
		return
	}
	segs, ok := splitPath(r.URL)
	if !ok || len(segs) < 4 || len(segs) > 6 || segs[0] != "v3" || segs[2] != "pipeline" || segs[3] != "pipelines" {
		s.count("notfound")
		writeError(w, http.StatusNotFound, CodeNoSuchAPI, noSuchAPI)
		return
	}
	if segs[1] != s.projectID {
		s.count("notfound")
		writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("project %q not found", segs[1]))
		return
	}
	op, method := route(segs[4:])
	if op == "" {
		s.count("notfound")
		writeError(w, http.StatusNotFound, CodeNoSuchAPI, noSuchAPI)
		return
	}
	if r.Method != method {
		s.count("badmethod")
		w.Header().Set("Allow", method)
		writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, fmt.Sprintf("method %s is not allowed here; use %s", r.Method, method))
		return
	}
	s.count(op)
	if op == "list" {
		s.list(w)
		return
	}
	id := segs[4]
	if _, ok := s.byID[id]; !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("release task %q does not exist", id))
		return
	}
	switch op {
	case "get":
		s.details(w, id)
	case "records":
		s.records(w, id)
	default:
		s.action(w, r, id)
	}
}

// route names the operation for the path segments after
// /v3/{project_id}/pipeline/pipelines and the method it takes; op is empty
// for an unknown path.
func route(rest []string) (op, method string) {
	switch {
	case len(rest) == 0:
		return "list", http.MethodGet
	case len(rest) == 1:
		return "get", http.MethodGet
	case rest[1] == "records":
		return "records", http.MethodGet
	case rest[1] == "action":
		return "action", http.MethodPost
	}
	return "", ""
}

// splitPath splits the escaped path so that an escaped "/" inside an ID
// stays inside its segment.
func splitPath(u *url.URL) ([]string, bool) {
	segs := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	for i, seg := range segs {
		v, err := url.PathUnescape(seg)
		if err != nil || v == "" {
			return nil, false
		}
		segs[i] = v
	}
	return segs, true
}

func (s *Server) count(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[key]++
}

// Wire shapes. They follow the ServiceStage API reference, "Application
// Management V3 APIs → Release Management → New Release Management":
// "Obtaining the Release Task List" (pipelines[] fields and status codes),
// "Viewing Release Task Details Based on the Release Task ID" (name,
// description, model_version, config_mode, id, fail_mode,
// enterprise_project_id, pipeline_declaration{sources, stages}), "Viewing the
// Release Task Execution Record Based on the Release Task ID" (count,
// records[] with id as a number, pipeline_id, trigger, status) and
// "Operating a Release Task Based on the Release Task ID" (its example
// response, where id is a number though the table says String). The stage
// and task objects inside pipeline_declaration and records are not shown in
// the parts of the reference available to us: they carry name, type (tasks
// of the declaration) and status (records), which is what a client needs.
type (
	pipelineJSON struct {
		ID                  string `json:"id"`
		Name                string `json:"name"`
		Description         string `json:"description"`
		CreateTime          int64  `json:"create_time"`
		UpdateTime          int64  `json:"update_time"`
		ModelVersion        int    `json:"model_version"`
		ConfigMode          string `json:"config_mode"`
		Status              int    `json:"status"`
		Creator             string `json:"creator"`
		LastTriggerAt       int64  `json:"last_trigger_at"`
		EnterpriseProjectID string `json:"enterprise_project_id"`
	}
	detailsJSON struct {
		ID                  string          `json:"id"`
		Name                string          `json:"name"`
		Description         string          `json:"description"`
		ModelVersion        int             `json:"model_version"`
		ConfigMode          string          `json:"config_mode"`
		FailMode            string          `json:"fail_mode"`
		EnterpriseProjectID string          `json:"enterprise_project_id"`
		Creator             string          `json:"creator"`
		CreateTime          int64           `json:"create_time"`
		UpdateTime          int64           `json:"update_time"`
		PipelineDeclaration declarationJSON `json:"pipeline_declaration"`
	}
	declarationJSON struct {
		Sources []struct{}      `json:"sources"` // template packages; none in "ui" mode
		Stages  []stageDeclJSON `json:"stages"`
	}
	stageDeclJSON struct {
		Name  string         `json:"name"`
		Tasks []taskDeclJSON `json:"tasks"`
	}
	taskDeclJSON struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	recordsJSON struct {
		Count   int          `json:"count"`
		Records []recordJSON `json:"records"`
	}
	recordJSON struct {
		ID         int64             `json:"id"`
		PipelineID string            `json:"pipeline_id"`
		Status     int               `json:"status"`
		Trigger    string            `json:"trigger"`
		StartTime  int64             `json:"start_time"`
		EndTime    int64             `json:"end_time"`
		Stages     []stageRecordJSON `json:"stages"`
	}
	stageRecordJSON struct {
		Name   string           `json:"name"`
		Status int              `json:"status"`
		Tasks  []taskRecordJSON `json:"tasks"`
	}
	taskRecordJSON struct {
		Name   string `json:"name"`
		Status int    `json:"status"`
	}
	actionRequestJSON struct {
		SelectedTasks []selectedJSON `json:"selected_tasks"`
		TaskName      string         `json:"task_name"`
		ApprovalType  string         `json:"approval_type"`
		Message       string         `json:"message"`
	}
	selectedJSON struct {
		StageName string   `json:"stage_name"`
		Tasks     []string `json:"tasks"`
	}
	actionResponseJSON struct {
		ID         int64  `json:"id"`
		PipelineID string `json:"pipeline_id"`
		Status     int    `json:"status"`
	}
	errorJSON struct {
		Code string `json:"error_code"`
		Msg  string `json:"error_msg"`
	}
)

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (s *Server) list(w http.ResponseWriter) {
	s.mu.Lock()
	now := s.clock.Now()
	out := struct {
		Pipelines []pipelineJSON `json:"pipelines"`
	}{Pipelines: make([]pipelineJSON, 0, len(s.specs))}
	for i, spec := range s.specs {
		p := pipelineJSON{
			ID: spec.ID, Name: spec.Name, Description: spec.Description,
			CreateTime: millis(s.created[i]), UpdateTime: millis(s.created[i]),
			ModelVersion: 2, ConfigMode: "ui", Status: StatusInitialized,
			Creator: spec.Creator, EnterpriseProjectID: "0",
		}
		if e := s.latest(spec.ID, now); e != nil {
			p.Status, p.LastTriggerAt = e.status, millis(e.start)
		}
		out.Pipelines = append(out.Pipelines, p)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) details(w http.ResponseWriter, id string) {
	i := s.byID[id]
	spec := s.specs[i]
	out := detailsJSON{
		ID: spec.ID, Name: spec.Name, Description: spec.Description,
		ModelVersion: 2, ConfigMode: "ui", FailMode: "stop", EnterpriseProjectID: "0",
		Creator: spec.Creator, CreateTime: millis(s.created[i]), UpdateTime: millis(s.created[i]),
		PipelineDeclaration: declarationJSON{Sources: []struct{}{}},
	}
	for _, st := range spec.Stages {
		sd := stageDeclJSON{Name: st.Name}
		for _, t := range st.Tasks {
			sd.Tasks = append(sd.Tasks, taskDeclJSON{Name: t.Name, Type: t.Kind.wireType()})
		}
		out.PipelineDeclaration.Stages = append(out.PipelineDeclaration.Stages, sd)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) records(w http.ResponseWriter, id string) {
	s.mu.Lock()
	s.latest(id, s.clock.Now())
	runs := s.execs[id]
	out := recordsJSON{Count: len(runs), Records: make([]recordJSON, 0, len(runs))}
	for i := len(runs) - 1; i >= 0; i-- {
		v := runs[i].view()
		rec := recordJSON{
			ID: v.ID, PipelineID: v.PipelineID, Status: v.Status, Trigger: v.Trigger,
			StartTime: millis(v.StartTime), EndTime: millis(v.EndTime),
		}
		for _, st := range v.Stages {
			sr := stageRecordJSON{Name: st.Name, Status: st.Status}
			for _, t := range st.Tasks {
				sr.Tasks = append(sr.Tasks, taskRecordJSON(t))
			}
			rec.Stages = append(rec.Stages, sr)
		}
		out.Records = append(out.Records, rec)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) action(w http.ResponseWriter, r *http.Request, id string) {
	act := r.URL.Query().Get("action_id")
	if !slices.Contains(actions, act) {
		writeError(w, http.StatusBadRequest, CodeBadRequest,
			fmt.Sprintf("invalid action_id %q: must be one of %s", act, strings.Join(actions, ", ")))
		return
	}
	s.count("action:" + act)

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, CodeBadRequest, "cannot read request body")
		return
	}
	var req actionRequestJSON
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "request body is not valid JSON: "+err.Error())
			return
		}
	}
	if act == actionApproval {
		switch {
		case req.TaskName == "":
			writeError(w, http.StatusBadRequest, CodeBadRequest, "task_name is required for the approval action")
			return
		case req.ApprovalType != approvalAgree && req.ApprovalType != approvalRefuse:
			writeError(w, http.StatusBadRequest, CodeBadRequest,
				fmt.Sprintf("approval_type must be %q or %q, not %q", approvalAgree, approvalRefuse, req.ApprovalType))
			return
		}
	}

	s.mu.Lock()
	e, refused := s.apply(id, act, req)
	var resp actionResponseJSON
	if refused == nil {
		resp = actionResponseJSON{ID: e.id, PipelineID: e.pipelineID, Status: e.status}
	}
	s.mu.Unlock()
	if refused != nil {
		writeError(w, http.StatusBadRequest, refused.code, refused.msg)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// apply performs act on release task id and returns the execution it acted
// on, advanced to now. s.mu must be held.
func (s *Server) apply(id, act string, req actionRequestJSON) (*execution, *actionError) {
	now := s.clock.Now()
	e := s.latest(id, now)
	if act == actionStart {
		return s.start(id, e, req.SelectedTasks, now)
	}
	if e == nil {
		return nil, refuseStatus("cannot %s: release task %s has never been run", act, id)
	}
	var err *actionError
	switch act {
	case actionStop:
		err = e.stop(now)
	case actionContinue:
		err = e.resume(now)
	case actionRetry:
		err = e.retry(now)
	case actionRollback:
		err = e.rollback(now)
	case actionApproval:
		err = e.approve(req.TaskName, req.ApprovalType, req.Message, now)
	}
	if err != nil {
		return nil, err
	}
	e.advance(now)
	return e, nil
}

func (s *Server) start(id string, running *execution, selected []selectedJSON, now time.Time) (*execution, *actionError) {
	if running != nil && !finished(running.status) {
		return nil, refuseStatus("cannot start release task %s: execution %d is still %s; stop it or wait for it to finish",
			id, running.id, statusText(running.status))
	}
	spec := s.specs[s.byID[id]]
	var plan map[string]map[string]bool
	if selected != nil {
		var err *actionError
		if plan, err = planSelection(spec, selected); err != nil {
			return nil, err
		}
	}
	e, ok := newExecution(s.nextID, spec, s.user, plan, now)
	if !ok {
		return nil, refuse("selected_tasks selects no task of release task %s", id)
	}
	s.nextID++
	s.execs[id] = append(s.execs[id], e)
	e.advance(now)
	return e, nil
}

// planSelection checks selected_tasks against the release task and returns
// the selected task names by stage.
func planSelection(spec TaskSpec, selected []selectedJSON) (map[string]map[string]bool, *actionError) {
	plan := make(map[string]map[string]bool)
	for _, sel := range selected {
		i := slices.IndexFunc(spec.Stages, func(st StageSpec) bool { return st.Name == sel.StageName })
		if i < 0 {
			return nil, refuse("selected_tasks: release task %s has no stage %q", spec.ID, sel.StageName)
		}
		if len(sel.Tasks) == 0 {
			return nil, refuse("selected_tasks: stage %q lists no tasks", sel.StageName)
		}
		if plan[sel.StageName] == nil {
			plan[sel.StageName] = make(map[string]bool)
		}
		for _, name := range sel.Tasks {
			if !slices.ContainsFunc(spec.Stages[i].Tasks, func(t StageTask) bool { return t.Name == name }) {
				return nil, refuse("selected_tasks: stage %q has no task %q", sel.StageName, name)
			}
			plan[sel.StageName][name] = true
		}
	}
	return plan, nil
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorJSON{Code: code, Msg: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own plain structs are encoded here, so this cannot happen.
		panic(fmt.Sprintf("sandbox: encode response: %v", err))
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
