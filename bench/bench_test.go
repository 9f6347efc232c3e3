package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPairRatios(t *testing.T) {
	tests := []struct {
		name      string
		bot, base []float64
		want      []float64
		median    float64
	}{
		{"three pairs", []float64{1800, 2000, 1500}, []float64{2000, 2000, 3000}, []float64{0.9, 1, 0.5}, 0.9},
		{"a pair with no baseline figure is left out", []float64{1000, 900}, []float64{0, 1000}, []float64{0.9}, 0.9},
		{"unequal runs: only whole pairs", []float64{1000, 900, 800}, []float64{1000, 1000}, []float64{1, 0.9}, 0.95},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pairRatios(tt.bot, tt.base)
			assert.InDeltaSlice(t, tt.want, got, 1e-9)
			assert.InDelta(t, tt.median, median(got), 1e-9)
		})
	}
}

func TestDescribePairs(t *testing.T) {
	got := describePairs([]float64{1800, 2000, 1500}, []float64{2000, 2000, 3000}, func(v float64) string { return fmt.Sprintf("%.0f/s", v) })
	assert.Equal(t, "1800/s / 2000/s = 0.90× (releasebot first), 2000/s / 2000/s = 1.00× (minimal bot first), "+
		"1500/s / 3000/s = 0.50× (releasebot first); median 0.90×", got)
}

func TestParseMetrics(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    metricSample
		wantErr bool
	}{
		{
			name: "what a soak reads",
			text: `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 28
process_resident_memory_bytes 3.1358976e+07
releasebot_followed_executions 6000
releasebot_commands_total{outcome="ok",verb="start"} 1200
releasebot_commands_total{outcome="ok",verb="help"} 1200
releasebot_commands_total{outcome="upstream_error",verb="list"} 3
go_goroutines_extra 99
`,
			want: metricSample{goroutines: 28, rss: 31358976, followed: 6000, outcomes: map[string]float64{"ok": 2400, "upstream_error": 3}},
		},
		{name: "no process collector", text: "go_goroutines 28\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMetrics(strings.NewReader(tt.text))
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSoakCompare(t *testing.T) {
	acks := func(p99 time.Duration) latencies {
		l := make(latencies, 100)
		for i := range l {
			l[i] = time.Millisecond
		}
		l[98], l[99] = p99, p99
		return l
	}
	second := soakWindow{index: 1, acks: acks(2 * time.Millisecond), rss: 30 << 20, goroutines: 28}
	tests := []struct {
		name  string
		last  soakWindow
		want  bool
		fails []string // lines that must say FAIL, by their start
	}{
		{"level", soakWindow{index: 19, acks: acks(3 * time.Millisecond), rss: 33 << 20, goroutines: 30}, true, nil},
		{"p99 grew more than 2×", soakWindow{index: 19, acks: acks(48 * time.Millisecond), rss: 30 << 20, goroutines: 28}, false, []string{"ack p99"}},
		{"memory and goroutines grew", soakWindow{index: 19, acks: acks(2 * time.Millisecond), rss: 37 << 20, goroutines: 57}, false, []string{"RSS", "goroutines"}},
		{"goroutines fell by more than 20 %", soakWindow{index: 19, acks: acks(2 * time.Millisecond), rss: 30 << 20, goroutines: 20}, false, []string{"goroutines"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, lines := soakCompare(second, tt.last)
			assert.Equal(t, tt.want, ok)
			require.Len(t, lines, 3)
			var failed []string
			for _, l := range lines {
				if strings.HasSuffix(l, "FAIL") {
					what, _, _ := strings.Cut(l, ",")
					failed = append(failed, what)
				}
			}
			assert.Equal(t, tt.fails, failed)
		})
	}
}
