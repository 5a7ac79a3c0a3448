//go:build unix

package transport

import (
	"encoding/json"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCommandCloseEscalates checks the shutdown sequence on children that
// do not exit when their input closes: SIGTERM, then SIGKILL.
func TestCommandCloseEscalates(t *testing.T) {
	const grace = 100 * time.Millisecond
	tests := []struct {
		mode    string
		wantLog string // the last step Close had to take
	}{
		{"term", "sending SIGTERM"},
		{"stubborn", "killing it"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			c, logs := startHelper(t, tt.mode, grace)
			var ready struct {
				Params struct{ Pid int } `json:"params"`
			}
			if err := json.Unmarshal(recv(t, c).Raw, &ready); err != nil || ready.Params.Pid == 0 {
				t.Fatalf("no pid from the helper: %v", err)
			}
			start := time.Now()
			c.Close()
			if d := time.Since(start); d > 10*grace {
				t.Errorf("Close took %v", d)
			}
			// Close returns once the child is reaped: the pid is gone.
			if err := syscall.Kill(ready.Params.Pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("child %d still exists after Close (kill -0: %v)", ready.Params.Pid, err)
			}
			if l := logs.String(); !strings.Contains(l, tt.wantLog) {
				t.Errorf("logs lack %q:\n%s", tt.wantLog, l)
			}
		})
	}
}
