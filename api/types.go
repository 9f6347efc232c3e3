package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/releasebot/releasebot/release"
)

// flexStatus decodes a status given as a number, a string holding a
// number, or null.
type flexStatus release.Status

func (s *flexStatus) UnmarshalJSON(data []byte) error {
	v, err := flexInt(data)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	*s = flexStatus(v)
	return nil
}

// Execution is the result of operating a release task: the execution that the
// action started or acted upon.
type Execution struct {
	ID         string         `json:"id"`
	PipelineID string         `json:"pipeline_id"`
	Status     release.Status `json:"status"`
}

// UnmarshalJSON accepts the execution ID as a string (the documentation's
// table) or a number (its example).
func (e *Execution) UnmarshalJSON(data []byte) error {
	var raw struct {
		ID         flexString `json:"id"`
		PipelineID flexString `json:"pipeline_id"`
		Status     flexStatus `json:"status"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*e = Execution{ID: string(raw.ID), PipelineID: string(raw.PipelineID), Status: release.Status(raw.Status)}
	return nil
}

// ReleaseTask is one entry of the release task list.
type ReleaseTask struct {
	ID            string
	Name          string
	Description   string
	Status        release.Status
	Creator       string
	LastTriggerAt time.Time // zero when it never ran
	CreateTime    time.Time
	UpdateTime    time.Time
}

type releaseTaskJSON struct {
	ID            flexString `json:"id"`
	Name          flexString `json:"name"`
	Description   flexString `json:"description"`
	Status        flexStatus `json:"status"`
	Creator       flexString `json:"creator"`
	LastTriggerAt flexTime   `json:"last_trigger_at"`
	CreateTime    flexTime   `json:"create_time"`
	UpdateTime    flexTime   `json:"update_time"`
}

func (r releaseTaskJSON) task() ReleaseTask {
	return ReleaseTask{
		ID:            string(r.ID),
		Name:          string(r.Name),
		Description:   string(r.Description),
		Status:        release.Status(r.Status),
		Creator:       string(r.Creator),
		LastTriggerAt: time.Time(r.LastTriggerAt),
		CreateTime:    time.Time(r.CreateTime),
		UpdateTime:    time.Time(r.UpdateTime),
	}
}

// UnmarshalJSON accepts numbers or strings for IDs and times.
func (t *ReleaseTask) UnmarshalJSON(data []byte) error {
	var raw releaseTaskJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*t = raw.task()
	return nil
}

// ReleaseTaskDetail is a release task with the stages and tasks it declares.
type ReleaseTaskDetail struct {
	ReleaseTask
	Stages []Stage
}

// Stage is one stage of a release task: a name and the tasks it runs.
type Stage struct {
	Name  string `json:"name"`
	Tasks []Task `json:"tasks"`
}

// Task is one task of a stage. Type is ServiceStage's task type, for example
// "manual_approval" for an approval gate; it is empty where the details omit it.
type Task struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// TaskNames returns the names of every task, in declaration order.
func (d *ReleaseTaskDetail) TaskNames() []string {
	var names []string
	for _, s := range d.Stages {
		for _, t := range s.Tasks {
			names = append(names, t.Name)
		}
	}
	return names
}

// ApprovalTasks returns the names of the tasks whose type marks them as a
// manual approval, in declaration order.
func (d *ReleaseTaskDetail) ApprovalTasks() []string {
	var names []string
	for _, s := range d.Stages {
		for _, t := range s.Tasks {
			if isApprovalType(t.Type) {
				names = append(names, t.Name)
			}
		}
	}
	return names
}

func isApprovalType(typ string) bool {
	t := strings.ToLower(typ)
	return strings.Contains(t, "approval") || strings.Contains(t, "approve") || t == "manual"
}

// UnmarshalJSON reads the stages from pipeline_declaration.stages, or from a
// top-level stages field where a response puts them there. The documentation
// types pipeline_declaration as a list and describes it as one object; both
// are accepted.
func (d *ReleaseTaskDetail) UnmarshalJSON(data []byte) error {
	var raw struct {
		releaseTaskJSON
		Declaration json.RawMessage `json:"pipeline_declaration"`
		Stages      []stageJSON     `json:"stages"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	type declaration struct {
		Stages []stageJSON `json:"stages"`
	}
	decls, err := decodeList[declaration](raw.Declaration, "")
	if err != nil {
		return fmt.Errorf("pipeline_declaration: %w", err)
	}
	stages := raw.Stages
	for _, decl := range decls {
		if len(decl.Stages) > 0 {
			stages = decl.Stages
			break
		}
	}
	*d = ReleaseTaskDetail{ReleaseTask: raw.task()}
	for _, s := range stages {
		d.Stages = append(d.Stages, s.stage())
	}
	return nil
}

type stageJSON struct {
	Name  flexString `json:"name"`
	Tasks []taskJSON `json:"tasks"`
}

type taskJSON struct {
	Name     flexString `json:"name"`
	Type     flexString `json:"type"`
	TaskType flexString `json:"task_type"`
}

func (s stageJSON) stage() Stage {
	st := Stage{Name: string(s.Name)}
	for _, t := range s.Tasks {
		typ := string(t.Type)
		if typ == "" {
			typ = string(t.TaskType)
		}
		st.Tasks = append(st.Tasks, Task{Name: string(t.Name), Type: typ})
	}
	return st
}

// Record is one execution of a release task.
type Record struct {
	ID         string
	PipelineID string
	Status     release.Status
	Trigger    string // who or what started it, as ServiceStage reports it
	StartTime  time.Time
	EndTime    time.Time // zero while running
	Stages     []StageRun
}

// StageRun is the state of one stage within an execution.
type StageRun struct {
	Name   string
	Status release.Status
	Tasks  []TaskRun
}

// TaskRun is the state of one task within an execution.
type TaskRun struct {
	Name   string
	Status release.Status
}

// UnmarshalJSON accepts numbers or strings for IDs, times and the trigger.
func (r *Record) UnmarshalJSON(data []byte) error {
	var raw struct {
		ID         flexString `json:"id"`
		PipelineID flexString `json:"pipeline_id"`
		Status     flexStatus `json:"status"`
		Trigger    flexString `json:"trigger"`
		StartTime  flexTime   `json:"start_time"`
		EndTime    flexTime   `json:"end_time"`
		Stages     []struct {
			Name   flexString `json:"name"`
			Status flexStatus `json:"status"`
			Tasks  []struct {
				Name   flexString `json:"name"`
				Status flexStatus `json:"status"`
			} `json:"tasks"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*r = Record{
		ID:         string(raw.ID),
		PipelineID: string(raw.PipelineID),
		Status:     release.Status(raw.Status),
		Trigger:    string(raw.Trigger),
		StartTime:  time.Time(raw.StartTime),
		EndTime:    time.Time(raw.EndTime),
	}
	for _, s := range raw.Stages {
		sr := StageRun{Name: string(s.Name), Status: release.Status(s.Status)}
		for _, t := range s.Tasks {
			sr.Tasks = append(sr.Tasks, TaskRun{Name: string(t.Name), Status: release.Status(t.Status)})
		}
		r.Stages = append(r.Stages, sr)
	}
	return nil
}

// decodeList decodes a list that arrives either as {"<key>": [...]} (the
// documentation's tables) or as a bare array (its examples). With key "" an
// object is taken as a list of one; absent data or null is an empty list.
func decodeList[T any](data []byte, key string) ([]T, error) {
	data = trimJSONSpace(data)
	switch {
	case len(data) == 0 || string(data) == "null":
		if key == "" {
			return nil, nil
		}
		return nil, errors.New("response is empty")
	case data[0] == '[':
		var items []T
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, err
		}
		return items, nil
	case key == "":
		var item T
		if err := json.Unmarshal(data, &item); err != nil {
			return nil, err
		}
		return []T{item}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	raw, ok := obj[key]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var items []T
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return items, nil
}

func decodeExecution(data []byte) (*Execution, error) {
	var e Execution
	// Called directly, not through json.Unmarshal, which would check the
	// whole answer once more before handing it over.
	if err := e.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	if e.ID == "" {
		return nil, errors.New("response has no execution id")
	}
	return &e, nil
}

func decodeReleaseTasks(data []byte) ([]ReleaseTask, error) {
	return decodeList[ReleaseTask](data, "pipelines")
}

func decodeRecords(data []byte) ([]Record, error) {
	return decodeList[Record](data, "records")
}

func decodeReleaseTaskDetail(data []byte) (*ReleaseTaskDetail, error) {
	var d ReleaseTaskDetail
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	if d.ID == "" && d.Name == "" {
		return nil, errors.New("response has neither id nor name")
	}
	return &d, nil
}

// flexString decodes a JSON string, number or boolean into its text, and null
// into "". Numbers keep their exact digits.
type flexString string

func (f *flexString) UnmarshalJSON(data []byte) error {
	data = trimJSONSpace(data)
	switch {
	case len(data) == 0:
		return errors.New("empty value")
	case data[0] == '"':
		if s, ok := plainJSONString(data); ok {
			*f = flexString(s)
			return nil
		}
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case string(data) == "null":
		*f = ""
	case string(data) == "true" || string(data) == "false":
		*f = flexString(data)
	default:
		var n json.Number
		if err := json.Unmarshal(data, &n); err != nil {
			return fmt.Errorf("want a string or a number, got %.20s", data)
		}
		*f = flexString(n.String())
	}
	return nil
}

// plainJSONString returns the text of a JSON string with nothing to
// unescape: no backslash, no control character, valid UTF-8. For the rest
// (ok false) json.Unmarshal decodes it; the result is the same.
func plainJSONString(data []byte) (string, bool) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return "", false
	}
	inner := data[1 : len(data)-1]
	for _, c := range inner {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}

// flexInt decodes a JSON number or a string holding one; null and "" are 0.
func flexInt(data []byte) (int, error) {
	var s flexString
	if err := s.UnmarshalJSON(data); err != nil {
		return 0, err
	}
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(s)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %.20q", string(s))
	}
	return int(n), nil
}

// flexTime decodes the time shapes ServiceStage uses: epoch milliseconds (or
// seconds) as a number or string, RFC 3339, or "2006-01-02 15:04:05". Times
// are shown, never computed with, so an unknown shape becomes the zero time
// rather than failing the whole response.
type flexTime time.Time

func (f *flexTime) UnmarshalJSON(data []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(data); err != nil {
		return err
	}
	*f = flexTime(parseTime(strings.TrimSpace(string(s))))
	return nil
}

func parseTime(s string) time.Time {
	if s == "" || s == "0" {
		return time.Time{}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 {
			return time.Time{}
		}
		if n < 100_000_000_000 { // before 1973 in ms: it is seconds
			return time.Unix(n, 0).UTC()
		}
		if n > 100_000_000_000_000 { // far future in ms: nonsense
			return time.Time{}
		}
		return time.UnixMilli(n).UTC()
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// trimJSONSpace trims what JSON counts as white space, and nothing else: a
// vertical tab before a document makes it invalid, not empty.
func trimJSONSpace(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }

// WaitingGate names the task of r that awaits approval, when the record
// says; "" otherwise.
func (r *Record) WaitingGate() string {
	for _, st := range r.Stages {
		for _, t := range st.Tasks {
			if t.Status == release.StatusAwaitingApproval {
				return t.Name
			}
		}
	}
	return ""
}

// SeenIn is what recs show of an execution: whether it is listed, its
// status, and the approval task it waits at.
func SeenIn(recs []Record, executionID string) release.Seen {
	for i := range recs {
		if recs[i].ID == executionID {
			return release.Seen{Found: true, Status: recs[i].Status, Gate: recs[i].WaitingGate()}
		}
	}
	return release.Seen{}
}
