package bot_test

import (
	"net/http"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/internal/fakeslack"
)

func TestUploadPrivate(t *testing.T) {
	tests := []struct {
		name    string
		scopes  []string
		fail    string // a method that answers an error
		wantErr string
	}{
		{"to the requester's direct message", []string{"chat:write", "files:write", "im:write"}, "", ""},
		{"without im:write", []string{"files:write"}, "", "conversations.open: missing_scope"},
		{"the upload is refused", []string{"files:write", "im:write"}, "files.completeUploadExternal", "files.uploadV2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeslack.MustStart(t, fakeslack.Options{Scopes: tt.scopes})
			if tt.fail != "" {
				s.FailNext(tt.fail, "invalid_channel")
			}
			tr := &http.Transport{}
			t.Cleanup(tr.CloseIdleConnections)
			b := bot.New(bot.Config{BotToken: fakeslack.DefaultBotToken, AppToken: fakeslack.DefaultAppToken,
				APIURL: s.APIURL(), HTTPClient: &http.Client{Transport: tr}}, zerolog.Nop())

			err := b.UploadPrivate(testContext(t), "U0BOB", "audit.csv", "audit", []byte("time,user\r\n"))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), "/upload/", "no upload URL in errors")
				return
			}
			require.NoError(t, err)
			open := only(t, s, "conversations.open")
			assert.Equal(t, "U0BOB", open.Params["users"])
			files := s.Files()
			require.Len(t, files, 1)
			assert.Equal(t, fakeslack.DMChannel("U0BOB"), files[0].Channel, "shared in the DM only")
			assert.Equal(t, "time,user\r\n", string(files[0].Content))
			assert.Equal(t, "audit.csv", files[0].Name)
			assert.True(t, files[0].Complete)
		})
	}
}
