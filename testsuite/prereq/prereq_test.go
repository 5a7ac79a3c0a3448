package prereq

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Fatal and Skip and stops the
// goroutine as they do.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatal(args ...any) {
	r.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Skip(args ...any) {
	r.skip = fmt.Sprint(args...)
	runtime.Goexit()
}

// run calls f with a recorder on a goroutine of its own and returns it.
func run(f func(tb testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

// TestMissing: a missing prerequisite skips, and fails under CI=true, with
// the reason and the hint; present ones pass.
func TestMissing(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		r := run(func(tb testing.TB) {
			NodeModules(tb, "run make npm-deps", t.TempDir(), "node_modules/absent/package.json")
		})
		got, other := r.skip, r.fatal
		if ci == "true" {
			got, other = r.fatal, r.skip
		}
		why := strings.Contains(got, "absent/package.json") || strings.Contains(got, "node not found")
		if !why || !strings.Contains(got, "run make npm-deps") || other != "" {
			t.Errorf("CI=%q: skip %q, fatal %q", ci, r.skip, r.fatal)
		}
	}
	r := run(func(tb testing.TB) { NodeModules(tb, "hint", ".", "prereq.go") })
	if r.skip != "" && !strings.Contains(r.skip, "node not found") || r.fatal != "" {
		t.Errorf("present file: skip %q, fatal %q", r.skip, r.fatal)
	}
}
