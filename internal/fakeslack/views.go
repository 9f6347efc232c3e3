package fakeslack

import (
	"encoding/json"
	"fmt"
	"maps"
)

// View is a modal (views.open) or an App Home tab (views.publish) as the
// person it belongs to sees it.
type View struct {
	ID   string
	Type string          // "modal" or "home"
	User string          // whom it was opened or published for
	JSON json.RawMessage // the view as Slack would send it back, id and state included
	// Open is true for a modal still on screen, and always for a Home tab.
	Open bool
	// Errors are the input errors of the last submission's
	// response_action "errors": block_id → message.
	Errors map[string]string
}

// view is a stored view; guarded by Server.mu.
type view struct {
	body   map[string]any
	typ    string
	user   string
	open   bool
	errors map[string]string
}

func (v *view) public() View {
	raw, _ := json.Marshal(v.body)
	id, _ := v.body["id"].(string)
	return View{ID: id, Type: v.typ, User: v.user, JSON: raw, Open: v.open, Errors: maps.Clone(v.errors)}
}

// View returns the view with id, as views.open, views.publish or a
// submission's response_action left it.
func (s *Server) View(id string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[id]
	if !ok {
		return View{}, false
	}
	return v.public(), true
}

// Home returns the Home tab views.publish last gave user.
func (s *Server) Home(user string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.homes[user]
	if !ok {
		return View{}, false
	}
	return s.views[id].public(), true
}

// CloseView closes user's modal id, as its Cancel button does. Slack tells
// the app only when the view asked for it (notify_on_close), which
// releasebot's modals do not; neither does the fake.
func (s *Server) CloseView(user, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[id]
	if !ok || v.user != user || v.typ != "modal" {
		return fmt.Errorf("close view %q: no such modal for %s", id, user)
	}
	s.setOpenLocked(id, v, false)
	return nil
}

func (s *Server) setOpenLocked(id string, v *view, open bool) {
	v.open = open
	s.touchLocked(itemKey{kindView, id})
}

// newViewLocked completes a validated view with the fields Slack adds and
// stores it; s.mu must be held.
func (s *Server) newViewLocked(body map[string]any, typ, user string) string {
	n := s.nextIDLocked()
	id := fmt.Sprintf("V%08d", n)
	maps.Copy(body, map[string]any{
		"id": id, "team_id": DefaultTeamID, "state": map[string]any{"values": map[string]any{}},
		"hash": fmt.Sprintf("%d.%08x", 156772938+n, n), "root_view_id": id, "previous_view_id": nil,
		"app_id": AppID, "bot_id": BotID, "app_installed_team_id": DefaultTeamID,
	})
	for k, def := range map[string]any{
		"callback_id": "", "private_metadata": "", "external_id": "", "clear_on_close": false, "notify_on_close": false,
	} {
		if _, set := body[k]; !set {
			body[k] = def
		}
	}
	s.views[id] = &view{body: body, typ: typ, user: user, open: true}
	s.touchLocked(itemKey{kindView, id})
	return id
}

func (s *Server) viewsOpen(c *Call) reply {
	var req struct {
		TriggerID string          `json:"trigger_id"`
		View      json.RawMessage `json:"view"`
	}
	if json.Unmarshal(c.JSON, &req) != nil {
		return fail("invalid_json")
	}
	t, found := s.triggers[req.TriggerID]
	switch {
	case req.TriggerID == "" || !found:
		return fail("invalid_trigger_id")
	case t.used:
		return fail("exchanged_trigger_id")
	case s.opts.TriggerTTL > 0 && s.now().Sub(t.created) > s.opts.TriggerTTL:
		return fail("expired_trigger_id")
	}
	if len(req.View) > maxViewBytes {
		return fail("view_too_large")
	}
	body, errs := validateModal(req.View)
	if len(errs) > 0 {
		return failWith("invalid_arguments", errs)
	}
	t.used = true
	id := s.newViewLocked(body, "modal", orDefault(t.user, DefaultUserID))
	return ok(map[string]any{"view": s.views[id].body})
}

func (s *Server) viewsPublish(c *Call) reply {
	var req struct {
		UserID string          `json:"user_id"`
		View   json.RawMessage `json:"view"`
	}
	if json.Unmarshal(c.JSON, &req) != nil {
		return fail("invalid_json")
	}
	if req.UserID == "" {
		return fail("invalid_arguments")
	}
	if len(req.View) > maxViewBytes {
		return fail("view_too_large")
	}
	body, errs := validateHome(req.View)
	if len(errs) > 0 {
		return failWith("invalid_arguments", errs)
	}
	if old, published := s.homes[req.UserID]; published {
		// A Home tab keeps its ID across publishes, as on Slack.
		v := s.views[old]
		for k, val := range body {
			v.body[k] = val
		}
		s.touchLocked(itemKey{kindView, old})
		return ok(map[string]any{"view": v.body})
	}
	id := s.newViewLocked(body, "home", req.UserID)
	s.homes[req.UserID] = id
	return ok(map[string]any{"view": s.views[id].body})
}

// submissionAckLocked applies the response_action of the ack of a
// view_submission for view id (protocol.md §6).
func (s *Server) submissionAckLocked(id string, ack json.RawMessage) {
	v, found := s.views[id]
	if !found {
		return
	}
	var resp struct {
		Action string            `json:"response_action"`
		Errors map[string]string `json:"errors"`
		View   json.RawMessage   `json:"view"`
	}
	if len(ack) > 0 {
		_ = json.Unmarshal(ack, &resp)
	}
	switch resp.Action {
	case "errors":
		v.errors = resp.Errors
		s.touchLocked(itemKey{kindView, id})
	case "update":
		body, errs := validateModal(resp.View)
		if len(errs) > 0 {
			s.logf("view %s: response_action update with a bad view: %v", id, errs)
			return
		}
		for k, val := range body {
			v.body[k] = val
		}
		v.errors = nil
		s.touchLocked(itemKey{kindView, id})
	case "push":
		if body, errs := validateModal(resp.View); len(errs) == 0 {
			s.newViewLocked(body, "modal", v.user)
		}
	case "clear":
		for oid, o := range s.views {
			if o.user == v.user && o.typ == "modal" && o.open {
				s.setOpenLocked(oid, o, false)
			}
		}
	default:
		s.setOpenLocked(id, v, false)
	}
}
