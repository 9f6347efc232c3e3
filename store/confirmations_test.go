package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
)

func TestConfirmation(t *testing.T) {
	const ttl = 5 * time.Minute
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		put := func(t *testing.T, id string) release.Confirmation {
			t.Helper()
			c := release.Confirmation{ID: id, Action: release.ActionStop, PipelineID: "pipe-1", TaskName: "payments-api",
				RequestedBy: "UOP", Channel: "C1", CreatedAt: t0}
			require.NoError(t, s.PutConfirmation(ctx, &c))
			return c
		}

		t.Run("once", func(t *testing.T) {
			put(t, "K1")
			require.NoError(t, s.SetConfirmationMessage(ctx, "K1", "1700000000.000300"))
			now := t0.Add(time.Minute + 123456789)
			got, err := s.TakeConfirmation(ctx, "K1", "U1", true, now, ttl)
			require.NoError(t, err)
			want := release.Confirmation{ID: "K1", Action: release.ActionStop, PipelineID: "pipe-1", TaskName: "payments-api",
				RequestedBy: "UOP", Channel: "C1", TS: "1700000000.000300", CreatedAt: ms(t0),
				UsedBy: "U1", UsedAt: ms(now), Confirmed: true}
			assert.Equal(t, want, got)

			got, err = s.TakeConfirmation(ctx, "K1", "U2", true, now, ttl)
			ce := confErr(t, err)
			assert.False(t, ce.Expired, "a used confirmation: Expired")
			assert.Equal(t, "confirmation already used", ce.Error())
			assert.Equal(t, want, ce.Confirmation, "the error carries the first use")
			assert.Equal(t, want, got)
		})

		t.Run("cancel", func(t *testing.T) {
			put(t, "K2")
			got, err := s.TakeConfirmation(ctx, "K2", "U1", false, t0, ttl)
			require.NoError(t, err)
			assert.False(t, got.Confirmed)
			assert.Equal(t, "U1", got.UsedBy)
			_, err = s.TakeConfirmation(ctx, "K2", "U2", true, t0, ttl)
			assert.Equal(t, "U1", confErr(t, err).Confirmation.UsedBy, "a cancelled confirmation cannot be confirmed")
		})

		t.Run("expiry", func(t *testing.T) {
			put(t, "K3")
			_, err := s.TakeConfirmation(ctx, "K3", "U1", true, t0.Add(ttl+time.Millisecond), ttl)
			ce := confErr(t, err)
			assert.True(t, ce.Expired, "older than ttl: Expired")
			assert.Equal(t, "confirmation expired", ce.Error())
			assert.Empty(t, ce.Confirmation.UsedBy, "an expired confirmation is not used")
			assert.True(t, ce.Confirmation.UsedAt.IsZero(), "UsedAt of an expired confirmation: got %v, want zero", ce.Confirmation.UsedAt)

			got, err := s.TakeConfirmation(ctx, "K3", "U2", true, t0.Add(ttl), ttl)
			require.NoError(t, err, "exactly ttl old is still valid, and the expired try wrote nothing")
			assert.Equal(t, "U2", got.UsedBy)
		})

		t.Run("unknown", func(t *testing.T) {
			_, err := s.TakeConfirmation(ctx, "nope", "U1", true, t0, ttl)
			assert.ErrorIs(t, err, store.ErrNotFound)
			require.NoError(t, s.SetConfirmationMessage(ctx, "nope", "1.2"))
		})

		t.Run("duplicate id", func(t *testing.T) {
			put(t, "K4")
			c := release.Confirmation{ID: "K4", Action: release.ActionRollback, CreatedAt: t0}
			assert.Error(t, s.PutConfirmation(ctx, &c))
		})
	})
}

func TestTakeConfirmationConcurrently(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		stores := replicas(t, driver, 2)
		require.NoError(t, stores[0].PutConfirmation(ctx, &release.Confirmation{ID: "K1", Action: release.ActionRollback,
			PipelineID: "pipe-1", TaskName: "payments-api", RequestedBy: "UOP", Channel: "C1", CreatedAt: t0}))

		const n = 20
		errs := make([]error, n)
		together(n, func(i int) {
			_, errs[i] = stores[i%len(stores)].TakeConfirmation(ctx, "K1", fmt.Sprintf("U%02d", i), true, t0, time.Minute)
		})
		var winners []string
		for i := range n {
			if errs[i] == nil {
				winners = append(winners, fmt.Sprintf("U%02d", i))
			}
		}
		require.Len(t, winners, 1, "callers that used the confirmation")
		for i := range n {
			if errs[i] != nil {
				ce := confErr(t, errs[i])
				assert.False(t, ce.Expired, "take #%d: Expired", i)
				assert.Equal(t, winners[0], ce.Confirmation.UsedBy, "take #%d is told who used it", i)
			}
		}
	})
}
