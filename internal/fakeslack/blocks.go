package fakeslack

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Block Kit limits (protocol.md §8).
const (
	maxMessageBlocks  = 50
	maxModalBlocks    = 100
	maxSectionText    = 3000
	maxSectionField   = 2000
	maxSectionFields  = 10
	maxHeaderText     = 150
	maxActionElements = 25
	maxContextElems   = 10
	maxIDLen          = 255
	maxButtonText     = 75
	maxButtonValue    = 2000
	maxButtonURL      = 3000
	maxInputLabel     = 2000
	maxViewTitle      = 24
	maxPrivateMeta    = 3000
	maxCallbackID     = 255
)

// blockErrs collects Slack-style messages: "<what> [json-pointer:/blocks/0/text/text]".
type blockErrs []string

func (e *blockErrs) add(ptr, format string, args ...any) {
	*e = append(*e, fmt.Sprintf(format, args...)+" [json-pointer:"+ptr+"]")
}

// maxLen checks a string's length in characters, as Slack counts them.
func (e *blockErrs) maxLen(ptr, s string, limit int) {
	if utf8.RuneCountInString(s) > limit {
		e.add(ptr, "must be less than %d characters", limit+1)
	}
}

// validateBlocks checks a blocks array; ptr is its JSON pointer (e.g. /blocks).
func validateBlocks(raw json.RawMessage, limit int, ptr string) []string {
	var errs blockErrs
	var blocks []any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		errs.add(ptr, "must be a JSON array of blocks")
		return errs
	}
	if len(blocks) > limit {
		errs.add(ptr, "no more than %d items allowed", limit)
	}
	seen := map[string]bool{}
	for i, b := range blocks {
		p := ptr + "/" + strconv.Itoa(i)
		m, isObj := b.(map[string]any)
		if !isObj {
			errs.add(p, "must be an object")
			continue
		}
		typ, _ := m["type"].(string)
		if typ == "" {
			errs.add(p+"/type", "missing required field: type")
			continue
		}
		if v, present := m["block_id"]; present {
			id, isStr := v.(string)
			switch {
			case !isStr:
				errs.add(p+"/block_id", "must be a string")
			case seen[id]:
				errs.add(p+"/block_id", "duplicate block_id %q", id)
			default:
				seen[id] = true
				errs.maxLen(p+"/block_id", id, maxIDLen)
			}
		}
		errs.block(p, typ, m)
	}
	return errs
}

func (e *blockErrs) block(p, typ string, m map[string]any) {
	actionIDs := map[string]bool{}
	switch typ {
	case "section":
		text, hasText := m["text"]
		fields, hasFields := m["fields"]
		if !hasText && !hasFields {
			e.add(p, "must provide either text or fields")
		}
		if hasText {
			e.text(p+"/text", text, maxSectionText, "")
		}
		if hasFields {
			fs, isArr := fields.([]any)
			if !isArr {
				e.add(p+"/fields", "must be an array")
			}
			if len(fs) > maxSectionFields {
				e.add(p+"/fields", "no more than %d items allowed", maxSectionFields)
			}
			for i, f := range fs {
				e.text(p+"/fields/"+strconv.Itoa(i), f, maxSectionField, "")
			}
		}
		if acc, present := m["accessory"]; present {
			e.element(p+"/accessory", acc, actionIDs)
		}
	case "header":
		e.text(p+"/text", m["text"], maxHeaderText, "plain_text")
	case "actions":
		els, _ := m["elements"].([]any)
		if len(els) == 0 {
			e.add(p+"/elements", "must provide at least 1 item")
		}
		if len(els) > maxActionElements {
			e.add(p+"/elements", "no more than %d items allowed", maxActionElements)
		}
		for i, el := range els {
			e.element(p+"/elements/"+strconv.Itoa(i), el, actionIDs)
		}
	case "context":
		els, _ := m["elements"].([]any)
		if len(els) == 0 {
			e.add(p+"/elements", "must provide at least 1 item")
		}
		if len(els) > maxContextElems {
			e.add(p+"/elements", "no more than %d items allowed", maxContextElems)
		}
	case "input":
		e.text(p+"/label", m["label"], maxInputLabel, "plain_text")
		if el, present := m["element"]; present {
			e.element(p+"/element", el, actionIDs)
		} else {
			e.add(p+"/element", "missing required field: element")
		}
	}
}

// text checks a text object; wantType "" accepts plain_text and mrkdwn.
func (e *blockErrs) text(p string, v any, limit int, wantType string) {
	m, isObj := v.(map[string]any)
	if !isObj {
		e.add(p, "must be a text object")
		return
	}
	typ, _ := m["type"].(string)
	switch {
	case wantType != "" && typ != wantType:
		e.add(p+"/type", "must be %s", wantType)
	case typ != "plain_text" && typ != "mrkdwn":
		e.add(p+"/type", "must be one of [plain_text, mrkdwn]")
	}
	s, isStr := m["text"].(string)
	switch {
	case !isStr:
		e.add(p+"/text", "must be a string")
	case s == "":
		e.add(p+"/text", "must be more than 0 characters")
	default:
		e.maxLen(p+"/text", s, limit)
	}
}

func (e *blockErrs) element(p string, v any, actionIDs map[string]bool) {
	m, isObj := v.(map[string]any)
	if !isObj {
		e.add(p, "must be an object")
		return
	}
	if id, present := m["action_id"].(string); present {
		if actionIDs[id] {
			e.add(p+"/action_id", "duplicate action_id %q in block", id)
		}
		actionIDs[id] = true
		e.maxLen(p+"/action_id", id, maxIDLen)
	}
	if typ, _ := m["type"].(string); typ == "button" {
		e.text(p+"/text", m["text"], maxButtonText, "plain_text")
		if s, isStr := m["value"].(string); isStr {
			e.maxLen(p+"/value", s, maxButtonValue)
		}
		if s, isStr := m["url"].(string); isStr {
			e.maxLen(p+"/url", s, maxButtonURL)
		}
		if st, present := m["style"].(string); present && st != "primary" && st != "danger" {
			e.add(p+"/style", "must be one of [primary, danger]")
		}
	}
}

// validateModal checks a views.open view and returns it decoded.
func validateModal(raw json.RawMessage) (map[string]any, []string) {
	var errs blockErrs
	var view map[string]any
	if err := json.Unmarshal(raw, &view); err != nil || view == nil {
		errs.add("/view", "must be an object")
		return nil, errs
	}
	if typ, _ := view["type"].(string); typ != "modal" {
		errs.add("/view/type", "must be one of [modal]")
	}
	if t, present := view["title"]; present {
		errs.text("/view/title", t, maxViewTitle, "plain_text")
	} else {
		errs.add("/view/title", "missing required field: title")
	}
	for _, k := range []string{"submit", "close"} {
		if t, present := view[k]; present && t != nil {
			errs.text("/view/"+k, t, maxViewTitle, "plain_text")
		}
	}
	errs = append(errs, validateViewBody(view)...)
	if bs, _ := view["blocks"].([]any); hasInput(bs) && view["submit"] == nil {
		errs.add("/view/submit", "must provide submit when the view has input blocks")
	}
	return view, errs
}

// validateViewBody checks what modals and Home tabs share: metadata,
// callback ID and blocks.
func validateViewBody(view map[string]any) blockErrs {
	var errs blockErrs
	if s, isStr := view["private_metadata"].(string); isStr {
		errs.maxLen("/view/private_metadata", s, maxPrivateMeta)
	}
	if s, isStr := view["callback_id"].(string); isStr {
		errs.maxLen("/view/callback_id", s, maxCallbackID)
	}
	blocks, _ := json.Marshal(view["blocks"])
	if view["blocks"] == nil {
		errs.add("/view/blocks", "missing required field: blocks")
	} else {
		errs = append(errs, validateBlocks(blocks, maxModalBlocks, "/view/blocks")...)
	}
	return errs
}

// validateHome checks a views.publish view and returns it decoded.
func validateHome(raw json.RawMessage) (map[string]any, []string) {
	var errs blockErrs
	var view map[string]any
	if err := json.Unmarshal(raw, &view); err != nil || view == nil {
		errs.add("/view", "must be an object")
		return nil, errs
	}
	if typ, _ := view["type"].(string); typ != "home" {
		errs.add("/view/type", "must be one of [home]")
	}
	errs = append(errs, validateViewBody(view)...)
	return view, errs
}

func hasInput(blocks []any) bool {
	for _, b := range blocks {
		if m, _ := b.(map[string]any); m != nil && m["type"] == "input" {
			return true
		}
	}
	return false
}
