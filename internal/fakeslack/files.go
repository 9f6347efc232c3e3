package fakeslack

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// File is a file uploaded with files.uploadV2's three steps
// (files.getUploadURLExternal, a POST to the upload URL,
// files.completeUploadExternal).
type File struct {
	ID       string
	Name     string // the filename given to files.getUploadURLExternal
	Length   int    // the length announced
	Title    string // from files.completeUploadExternal
	Channel  string // channel_id of files.completeUploadExternal; "" until completed
	Content  []byte // what was POSTed to the upload URL; nil until then
	Uploaded bool   // the POST came
	Complete bool   // files.completeUploadExternal shared it
}

// fileStore is the fake's state for files and direct messages; its zero
// value is ready, and Server.mu guards it.
type fileStore struct {
	files []*File
	dms   map[string]string // user → DM channel ID
}

func init() {
	for name, m := range map[string]struct {
		scope  string
		handle func(s *Server, c *Call) reply
	}{
		"conversations.open":           {"im:write", (*Server).conversationsOpen},
		"files.getUploadURLExternal":   {"files:write", (*Server).filesGetUploadURLExternal},
		"files.completeUploadExternal": {"files:write", (*Server).filesCompleteUploadExternal},
	} {
		methods[name] = methodSpec{handle: m.handle}
		methodScopes[name] = m.scope
		MethodScopes[name] = m.scope
	}
}

// Files returns a copy of every file uploaded so far, in upload order.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]File, len(s.fileStore.files))
	for i, f := range s.fileStore.files {
		out[i] = *f
		out[i].Content = slices.Clone(f.Content)
	}
	return out
}

// DMChannel is the ID of the direct message conversations.open gives for user.
func DMChannel(user string) string {
	return "D" + strings.TrimPrefix(strings.TrimPrefix(user, "U"), "W")
}

// conversationsOpen opens a direct message with one user (users=U…).
func (s *Server) conversationsOpen(c *Call) reply {
	users := strings.Split(c.Params["users"], ",")
	if c.Params["users"] == "" || len(users) != 1 {
		return fail("users_list_not_supplied")
	}
	if s.fileStore.dms == nil {
		s.fileStore.dms = map[string]string{}
	}
	id := DMChannel(users[0])
	s.fileStore.dms[users[0]] = id
	return ok(map[string]any{"channel": map[string]any{"id": id, "is_im": true, "user": users[0]}})
}

func (s *Server) filesGetUploadURLExternal(c *Call) reply {
	n, err := strconv.Atoi(c.Params["length"])
	if c.Params["filename"] == "" || err != nil || n <= 0 {
		return fail("invalid_arguments")
	}
	f := &File{ID: fmt.Sprintf("F%07d", len(s.fileStore.files)+1), Name: c.Params["filename"], Length: n}
	s.fileStore.files = append(s.fileStore.files, f)
	return ok(map[string]any{"upload_url": s.srv.URL + "/upload/" + f.ID, "file_id": f.ID})
}

func (s *Server) filesCompleteUploadExternal(c *Call) reply {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if json.Unmarshal([]byte(c.Params["files"]), &files) != nil || len(files) == 0 {
		return fail("invalid_arguments")
	}
	var out []map[string]any
	for _, want := range files {
		f := s.fileLocked(want.ID)
		if f == nil || !f.Uploaded {
			return fail("file_not_found")
		}
		f.Title, f.Channel, f.Complete = want.Title, c.Params["channel_id"], true
		out = append(out, map[string]any{"id": f.ID, "title": f.Title})
	}
	return ok(map[string]any{"files": out})
}

func (s *Server) fileLocked(id string) *File {
	for _, f := range s.fileStore.files {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// serveUpload takes the POST of a file's content to its upload URL: a
// multipart form whose "file" part is the content, with the bot token.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	content, err := uploadedContent(r)
	s.mu.Lock()
	f := s.fileLocked(id)
	switch {
	case r.Header.Get("Authorization") != "Bearer "+s.opts.BotToken:
		err = fmt.Errorf("bad token")
	case f == nil:
		err = fmt.Errorf("unknown file %s", id)
	case err == nil && len(content) != f.Length:
		err = fmt.Errorf("%d bytes uploaded, %d announced", len(content), f.Length)
	}
	if err == nil {
		f.Content, f.Uploaded = content, true
		s.notifyLocked()
	}
	s.mu.Unlock()
	if err != nil {
		s.logf("upload %s -> 400 %v", id, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.logf("upload %s -> ok", id)
	_, _ = io.WriteString(w, "OK - "+strconv.Itoa(len(content)))
}

func uploadedContent(r *http.Request) ([]byte, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("method %s", r.Method)
	}
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return nil, fmt.Errorf("not a multipart form")
	}
	mr := multipart.NewReader(http.MaxBytesReader(nil, r.Body, maxRequestBody), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return nil, fmt.Errorf("no file part: %w", err)
		}
		if p.FormName() == "file" {
			return io.ReadAll(p)
		}
	}
}
