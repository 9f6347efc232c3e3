package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const (
	manifestPath = "manifest.yaml"
	// The schema lives beside the repository, not in it (see ../shared/slack/README.md).
	manifestSchemaPath = "../shared/slack/manifest.schema.1.0.0.json"
	// The schema has no $id; it is registered under the URL it is published at,
	// and nothing is ever fetched from there.
	manifestSchemaURL = "https://raw.githubusercontent.com/slackapi/manifest-schema/main/schemas/manifest.schema.1.0.0.json"

	slackModule = "github.com/slack-go/slack"
	// botDir holds every Slack Web API call the bot makes (bot/ is the transport).
	botDir = "bot"
)

// webAPIScopes maps slack-go *slack.Client methods to the bot scope their Web API
// method needs ("" for none). A method the bot calls that is missing here fails
// TestManifestScopes: look its scope up on https://api.slack.com/methods and add it.
var webAPIScopes = map[string]string{
	"PostMessage":                "chat:write", // chat.postMessage
	"PostMessageContext":         "chat:write",
	"PostEphemeral":              "chat:write", // chat.postEphemeral
	"PostEphemeralContext":       "chat:write",
	"UpdateMessage":              "chat:write", // chat.update
	"UpdateMessageContext":       "chat:write",
	"SendMessage":                "chat:write", // chat.postMessage and friends, by options
	"SendMessageContext":         "chat:write",
	"DeleteMessage":              "chat:write", // chat.delete
	"DeleteMessageContext":       "chat:write",
	"OpenView":                   "", // views.open
	"OpenViewContext":            "",
	"PublishViewContext":         "", // views.publish
	"PushView":                   "", // views.push
	"PushViewContext":            "",
	"UpdateView":                 "", // views.update
	"UpdateViewContext":          "",
	"AuthTest":                   "", // auth.test
	"AuthTestContext":            "",
	"GetUserGroupMembers":        "usergroups:read", // usergroups.users.list
	"GetUserGroupMembersContext": "usergroups:read",
	"GetUserInfo":                "users:read", // users.info
	"GetUserInfoContext":         "users:read",
	"GetConversationInfo":        "channels:read", // conversations.info (groups:read too for private channels)
	"GetConversationInfoContext": "channels:read",
	"JoinConversation":           "channels:join", // conversations.join
	"JoinConversationContext":    "channels:join",
	"OpenConversation":           "im:write", // conversations.open, for a direct message with one person
	"OpenConversationContext":    "im:write",
	"UploadFile":                 "files:write", // files.uploadV2: getUploadURLExternal, then completeUploadExternal
	"UploadFileContext":          "files:write",
}

// notWebAPI are *slack.Client methods that make no Web API call. Their names are
// common enough (zerolog's log.Debug()) that matching them would be noise.
var notWebAPI = []string{"Debug", "Debugf", "Debugln"}

// manifest is the part of manifest.yaml whose meaning the bot depends on;
// the schema checks the rest.
type manifest struct {
	Features struct {
		SlashCommands []struct {
			Command      string `yaml:"command"`
			Description  string `yaml:"description"`
			UsageHint    string `yaml:"usage_hint"`
			ShouldEscape bool   `yaml:"should_escape"`
			URL          string `yaml:"url"`
		} `yaml:"slash_commands"`
		AppHome struct {
			HomeTabEnabled bool `yaml:"home_tab_enabled"`
		} `yaml:"app_home"`
	} `yaml:"features"`
	OAuthConfig struct {
		Scopes map[string][]string `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		SocketModeEnabled bool `yaml:"socket_mode_enabled"`
		Interactivity     struct {
			IsEnabled  bool   `yaml:"is_enabled"`
			RequestURL string `yaml:"request_url"`
		} `yaml:"interactivity"`
		EventSubscriptions any `yaml:"event_subscriptions"`
	} `yaml:"settings"`
}

func readManifest(t *testing.T) manifest {
	t.Helper()
	b, err := os.ReadFile(manifestPath)
	require.NoError(t, err)
	var m manifest
	require.NoError(t, yaml.Unmarshal(b, &m), "parse %s", manifestPath)
	return m
}

func TestManifestMatchesSlackSchema(t *testing.T) {
	schemaFile, err := os.Open(manifestSchemaPath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s not found (a plain clone has no ../shared/slack/); CI always has it, so CI checks manifest.yaml against Slack's schema", manifestSchemaPath)
	}
	require.NoError(t, err)
	defer schemaFile.Close()
	schemaDoc, err := jsonschema.UnmarshalJSON(schemaFile)
	require.NoError(t, err, "parse %s", manifestSchemaPath)

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	c.UseLoader(offlineLoader{})
	c.UseRegexpEngine(ecmaRegexp) // Slack's patterns use (?!...), which Go's regexp lacks
	require.NoError(t, c.AddResource(manifestSchemaURL, schemaDoc))
	schema, err := c.Compile(manifestSchemaURL)
	require.NoError(t, err, "compile %s", manifestSchemaPath)

	doc := manifestAsJSON(t)
	if err := schema.Validate(doc); err != nil {
		t.Fatalf("%s does not match Slack's manifest schema: %v", manifestPath, err)
	}
}

// offlineLoader refuses every URL: the schema and the draft-07 meta-schema are
// already known to the compiler, so any load would be a surprise reference.
type offlineLoader struct{}

func (offlineLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("offline: refusing to load %s", url)
}

// ecmaRegexp compiles JSON Schema patterns as ECMA-262 regular expressions,
// as the spec says, the way jsonschema's own example does.
func ecmaRegexp(pattern string) (jsonschema.Regexp, error) {
	re, err := regexp2.Compile(pattern, regexp2.ECMAScript)
	if err != nil {
		return nil, err
	}
	return (*ecmaRegexpMatcher)(re), nil
}

type ecmaRegexpMatcher regexp2.Regexp

func (re *ecmaRegexpMatcher) MatchString(s string) bool {
	ok, err := (*regexp2.Regexp)(re).MatchString(s)
	return err == nil && ok
}

func (re *ecmaRegexpMatcher) String() string { return (*regexp2.Regexp)(re).String() }

// manifestAsJSON reads manifest.yaml as the JSON value Slack would see: YAML
// decoded to Go values, round-tripped through encoding/json so that every map
// has string keys and every number is a json.Number, as the validator expects.
func manifestAsJSON(t *testing.T) any {
	t.Helper()
	b, err := os.ReadFile(manifestPath)
	require.NoError(t, err)
	var v any
	require.NoError(t, yaml.Unmarshal(b, &v), "parse %s", manifestPath)
	j, err := json.Marshal(v)
	require.NoError(t, err, "%s as JSON", manifestPath)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	require.NoError(t, err)
	return doc
}

func TestManifestSettings(t *testing.T) {
	m := readManifest(t)
	s := m.Settings
	assert.True(t, s.SocketModeEnabled, "settings.socket_mode_enabled: got false, want true")
	assert.True(t, s.Interactivity.IsEnabled, "settings.interactivity.is_enabled: got false, want true")
	assert.Empty(t, s.Interactivity.RequestURL, "settings.interactivity.request_url: got a URL, want none with Socket Mode")
	require.NotNil(t, s.EventSubscriptions, "settings.event_subscriptions: the App Home tab needs app_home_opened")
	assert.Equal(t, map[string]any{"bot_events": []any{"app_home_opened"}}, s.EventSubscriptions,
		"settings.event_subscriptions: exactly the events bot/ handles")
	assert.True(t, m.Features.AppHome.HomeTabEnabled, "features.app_home.home_tab_enabled: got false, want true")
	assert.Equal(t, []string{"bot"}, slices.Sorted(maps.Keys(m.OAuthConfig.Scopes)),
		"oauth_config.scopes: only bot scopes, no user or optional ones")
}

func TestManifestSlashCommand(t *testing.T) {
	cmds := readManifest(t).Features.SlashCommands
	require.Len(t, cmds, 1, "features.slash_commands: got %d, want exactly /release", len(cmds))
	cmd := cmds[0]
	assert.Equal(t, "/release", cmd.Command)
	assert.NotEmpty(t, cmd.Description, "description")
	assert.Empty(t, cmd.URL, "url: got one, want none with Socket Mode")
	require.NotEmpty(t, cmd.UsageHint, "usage_hint")
	for _, verb := range []string{
		"help", "list", "status", "start", "stop", "continue",
		"retry", "rollback", "approve", "refuse", "ask", "audit",
	} {
		assert.Regexp(t, `(^|\| )`+verb+`( |$)`, cmd.UsageHint, "usage_hint: got no %q", verb)
	}
}

// TestManifestScopes checks that the manifest asks for exactly the bot scopes
// the code needs: commands for /release, plus the scopes of every Web API
// method that bot/ calls.
func TestManifestScopes(t *testing.T) {
	methods, err := slackClientMethods(slackModuleDir(t))
	require.NoError(t, err)
	for name := range webAPIScopes {
		assert.True(t, methods[name], "webAPIScopes: %s is not a method of *slack.Client", name)
	}

	calls, err := slackCalls(botDir, methods)
	require.NoError(t, err)
	used, unknown := scopesFor(calls)
	require.Empty(t, unknown, "%s/ calls slack-go methods missing from webAPIScopes: add their scopes to the table", botDir)
	want := append([]string{"commands"}, used...) // the manifest has a slash command
	slices.Sort(want)

	got := slices.Sorted(slices.Values(readManifest(t).OAuthConfig.Scopes["bot"]))
	assert.Equal(t, want, got,
		"oauth_config.scopes.bot: got these, want exactly those %s/ needs (it calls %v)", botDir, calls)
}

func TestScopeCollector(t *testing.T) {
	methods, err := slackClientMethods("testdata/scopes/slack")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"AuthTest", "GetUserGroupMembersContext", "GetUserInfoContext", "OpenViewContext",
		"PostEphemeralContext", "PostMessageContext", "SetUserPresenceContext", "UpdateMessageContext",
	}, slices.Sorted(maps.Keys(methods)), "methods of slack.Client, without test files, Debugf or unexported ones")

	tests := []struct {
		name        string
		dir         string
		wantCalls   []string
		wantScopes  []string
		wantUnknown []string
		wantErr     string
	}{
		{
			name: "what the bot calls",
			dir:  "testdata/scopes/bot",
			wantCalls: []string{
				"GetUserGroupMembersContext", "OpenViewContext", "PostEphemeralContext",
				"PostMessageContext", "UpdateMessageContext",
			},
			wantScopes: []string{"chat:write", "usergroups:read"},
		},
		{
			name:        "a method missing from the table",
			dir:         "testdata/scopes/unknown",
			wantCalls:   []string{"PostMessageContext", "SetUserPresenceContext"},
			wantScopes:  []string{"chat:write"},
			wantUnknown: []string{"SetUserPresenceContext"},
		},
		{name: "only test files", dir: "testdata/scopes/onlytests", wantErr: "testdata/scopes/onlytests/ not found"},
		{name: "no directory", dir: "testdata/scopes/absent", wantErr: "testdata/scopes/absent/ not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, err := slackCalls(tt.dir, methods)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantCalls, calls, "calls")
			scopes, unknown := scopesFor(calls)
			assert.Equal(t, tt.wantScopes, scopes, "scopes")
			assert.Equal(t, tt.wantUnknown, unknown, "unknown")
		})
	}
}

// slackModuleDir returns where the slack-go version that go.mod requires is
// unpacked, so that the method list always matches the code being built.
func slackModuleDir(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", slackModule)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list -m %s: %s", slackModule, stderr.String())
	dir := strings.TrimSpace(string(out))
	require.NotEmpty(t, dir, "%s is not in the module cache: run go mod download", slackModule)
	return dir
}

// slackClientMethods returns the exported methods of Client declared in the
// non-test Go files of dir (slack-go's root package), except notWebAPI.
func slackClientMethods(dir string) (map[string]bool, error) {
	files, err := parseDir(dir)
	if err != nil {
		return nil, err
	}
	methods := map[string]bool{}
	for _, f := range files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 || !fn.Name.IsExported() {
				continue
			}
			recv := fn.Recv.List[0].Type
			if star, ok := recv.(*ast.StarExpr); ok {
				recv = star.X
			}
			if id, ok := recv.(*ast.Ident); ok && id.Name == "Client" && !slices.Contains(notWebAPI, fn.Name.Name) {
				methods[fn.Name.Name] = true
			}
		}
	}
	if len(methods) == 0 {
		return nil, fmt.Errorf("%s declares no methods of Client", dir)
	}
	return methods, nil
}

// slackCalls returns, sorted, the names in methods that the non-test Go files
// of dir select on a value: x.PostMessageContext(...), or a method value. Only
// names are compared, so calls through an interface are found too; selectors
// on an imported package (slack.New) are not method calls and are skipped.
func slackCalls(dir string, methods map[string]bool) ([]string, error) {
	files, err := parseDir(dir)
	if err != nil {
		return nil, err
	}
	found := map[string]bool{}
	for _, f := range files {
		imports := importNames(f)
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || !methods[sel.Sel.Name] {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && imports[id.Name] {
				return true
			}
			found[sel.Sel.Name] = true
			return true
		})
	}
	return slices.Sorted(maps.Keys(found)), nil
}

// scopesFor returns, sorted and without "", the scopes the methods need, and
// the methods webAPIScopes does not know.
func scopesFor(methods []string) (scopes, unknown []string) {
	for _, m := range methods {
		scope, ok := webAPIScopes[m]
		switch {
		case !ok:
			unknown = append(unknown, m)
		case scope != "" && !slices.Contains(scopes, scope):
			scopes = append(scopes, scope)
		}
	}
	slices.Sort(scopes)
	return scopes, unknown
}

// parseDir parses the non-test Go files of dir, failing when there are none.
func parseDir(dir string) ([]*ast.File, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	paths = slices.DeleteFunc(paths, func(p string) bool { return strings.HasSuffix(p, "_test.go") })
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s/ not found: no non-test Go files in it", dir)
	}
	fset := token.NewFileSet()
	files := make([]*ast.File, 0, len(paths))
	for _, p := range paths {
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// importNames returns the names f's imports are known by in f.
func importNames(f *ast.File) map[string]bool {
	names := map[string]bool{}
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			continue
		}
		name := path.Base(p)
		if imp.Name != nil {
			name = imp.Name.Name
		} else if len(name) > 1 && name[0] == 'v' && strings.Trim(name[1:], "0123456789") == "" {
			// github.com/x/y/v6 is package y.
			name = path.Base(path.Dir(p))
		}
		names[name] = true
	}
	return names
}
