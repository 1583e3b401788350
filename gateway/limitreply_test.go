package gateway

import (
	"testing"
	"time"
)

// x-ratelimit-reset-* values read as Go durations, as OpenAI writes them.
func TestResetDurationIsGoDurationFormat(t *testing.T) {
	for _, secs := range []int64{1, 9, 59, 60, 61, 360, 3599, 3600, 3605, 86399, 86400, 31 * 86400} {
		want := (time.Duration(secs) * time.Second).String()
		if got := string(appendResetDuration(nil, secs)); got != want {
			t.Errorf("%d s: %q, want %q", secs, got, want)
		}
	}
}
