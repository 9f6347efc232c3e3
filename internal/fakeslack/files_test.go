package fakeslack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/internal/fakeslack"
)

var fileScopes = []string{"chat:write", "files:write", "im:write"}

func TestUploadToADirectMessage(t *testing.T) {
	s := fakeslack.MustStart(t, fakeslack.Options{Scopes: fileScopes})
	api := slack.New(fakeslack.DefaultBotToken, slack.OptionAPIURL(s.APIURL()), slack.OptionHTTPClient(&http.Client{}))
	ctx := context.Background()

	dm, _, _, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U0ALICE"}, ReturnIM: true})
	require.NoError(t, err)
	assert.Equal(t, fakeslack.DMChannel("U0ALICE"), dm.ID)

	content := "a,b\r\n1,2\r\n"
	f, err := api.UploadFileContext(ctx, slack.UploadFileParameters{Reader: strings.NewReader(content), FileSize: len(content),
		Filename: "x.csv", Title: "X", Channel: dm.ID})
	require.NoError(t, err)
	files := s.Files()
	require.Len(t, files, 1)
	assert.Equal(t, fakeslack.File{ID: f.ID, Name: "x.csv", Size: len(content), Title: "X", Channel: dm.ID,
		Content: []byte(content), Uploaded: true, Complete: true}, files[0])
}

func TestUploadChecks(t *testing.T) {
	tests := []struct {
		name    string
		scopes  []string
		size    int // announced; the content is 3 bytes
		wantErr string
	}{
		{"without files:write", []string{"chat:write"}, 3, "missing_scope"},
		{"a length that is not the content's", fileScopes, 5, "400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeslack.MustStart(t, fakeslack.Options{Scopes: tt.scopes})
			api := slack.New(fakeslack.DefaultBotToken, slack.OptionAPIURL(s.APIURL()), slack.OptionHTTPClient(&http.Client{}))
			_, err := api.UploadFileContext(context.Background(), slack.UploadFileParameters{Reader: strings.NewReader("abc"),
				FileSize: tt.size, Filename: "x.csv", Channel: "D1"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			for _, f := range s.Files() {
				assert.False(t, f.Complete, "nothing is shared")
			}
		})
	}
}

func TestCompleteNeedsTheUpload(t *testing.T) {
	s := fakeslack.MustStart(t, fakeslack.Options{Scopes: fileScopes})
	api := slack.New(fakeslack.DefaultBotToken, slack.OptionAPIURL(s.APIURL()), slack.OptionHTTPClient(&http.Client{}))
	ctx := context.Background()
	u, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: "x.csv", FileSize: 3})
	require.NoError(t, err)
	_, err = api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{Files: []slack.FileSummary{{ID: u.FileID}}, Channel: "D1"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "file_not_found")
}
