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

// maxUpload bounds an uploaded file: an audit export of 100,000 rows fits.
const maxUpload = 64 << 20

// UploadMethod is the Call.Method recorded for uploads to an upload_url.
const UploadMethod = "file_upload"

// File is a file uploaded the files.uploadV2 way: files.getUploadURLExternal,
// a POST of the content to the upload_url, files.completeUploadExternal.
type File struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Title    string `json:"title"`
	Size     int    `json:"size"` // as announced to files.getUploadURLExternal
	Content  []byte `json:"-"`    // nil until uploaded
	Channel  string `json:"-"`    // where completeUploadExternal shared it; "" if nowhere
	Uploaded bool   `json:"-"`
	Complete bool   `json:"-"` // files.completeUploadExternal was called for it
}

func (f File) apiJSON() map[string]any {
	return map[string]any{"id": f.ID, "name": f.Name, "title": f.Title, "size": f.Size}
}

// Files lists every file, completed or not, with its content, in upload order.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]File, 0, len(s.files))
	for _, f := range s.files {
		c := *f
		c.Content = slices.Clone(f.Content)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// File returns the file with id and its content.
func (s *Server) File(id string) (File, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok {
		return File{}, false
	}
	c := *f
	c.Content = slices.Clone(f.Content)
	return c, true
}

func (s *Server) filesGetUploadURLExternal(c *Call) reply {
	name := c.Params["filename"]
	size, err := strconv.Atoi(c.Params["length"])
	if name == "" || err != nil || size <= 0 {
		return fail("invalid_arguments")
	}
	n := s.nextIDLocked()
	// Zero-padded so that IDs sort in creation order.
	id := fmt.Sprintf("F%010d", n)
	s.files[id] = &File{ID: id, Name: name, Title: name, Size: size}
	// slack-go sends the bot token to the upload URL only if it is on the
	// API's own host, so it must be served here.
	return ok(map[string]any{"upload_url": s.url + "/upload/" + id, "file_id": id})
}

// serveUpload takes a file's content: the "file" part of a multipart form,
// as slack-go sends it, or the raw body.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	call := Call{Method: UploadMethod, Params: map[string]string{"file_id": id}, URL: s.url + r.URL.Path, At: s.now()}
	if tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found {
		call.Token = tok
	}
	content, err := readUpload(w, r)
	status, answer := http.StatusOK, ""
	s.mu.Lock()
	f, known := s.files[id]
	switch {
	case r.Method != http.MethodPost:
		status, answer = http.StatusMethodNotAllowed, "method not allowed"
	case !known || f.Complete:
		status, answer = http.StatusNotFound, "unknown upload URL"
	case err != nil:
		status, answer = http.StatusBadRequest, "bad upload: "+err.Error()
	case len(content) != f.Size:
		// Slack checks the length announced to files.getUploadURLExternal.
		status, answer = http.StatusBadRequest, fmt.Sprintf("bad upload: %d bytes, %d announced", len(content), f.Size)
	default:
		f.Content, f.Uploaded = content, true
		answer = fmt.Sprintf("OK - %d", len(content))
	}
	call.Status = status
	if status != http.StatusOK {
		call.Error = answer
	}
	s.appendCallLocked(call)
	s.mu.Unlock()

	s.logf("upload %s -> %d", id, status)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

func readUpload(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, maxUpload)
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "multipart/form-data" {
		return io.ReadAll(body)
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, fmt.Errorf("no file part: %w", err)
		}
		if part.FormName() == "file" {
			return io.ReadAll(part)
		}
	}
}

func (s *Server) filesCompleteUploadExternal(c *Call) reply {
	var summaries []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if json.Unmarshal([]byte(c.Params["files"]), &summaries) != nil || len(summaries) == 0 {
		return fail("invalid_arguments")
	}
	var shared []File
	for _, sum := range summaries {
		f, ok := s.files[sum.ID]
		if !ok || !f.Uploaded || f.Complete {
			return fail("file_not_found")
		}
		if sum.Title != "" {
			f.Title = sum.Title
		}
		shared = append(shared, *f)
	}
	channel := c.Params["channel_id"]
	if channel == "" {
		channel, _, _ = strings.Cut(c.Params["channels"], ",")
	}
	text, blocks, _, bad := messageContent(c.Params["initial_comment"], json.RawMessage(c.Params["blocks"]), "/blocks")
	if bad != nil {
		return *bad
	}
	out := make([]any, len(shared))
	for i := range shared {
		f := s.files[shared[i].ID]
		f.Complete = true
		shared[i].Content = nil
		if channel != "" {
			f.Channel = s.channelForLocked(channel)
			shared[i].Channel = f.Channel
		}
		out[i] = map[string]any{"id": f.ID, "title": f.Title}
	}
	if channel != "" {
		s.postLocked(&Message{
			Channel: s.channelForLocked(channel), ThreadTS: c.Params["thread_ts"], Text: text, Blocks: blocks, Files: shared,
		})
	}
	return ok(map[string]any{"files": out})
}
