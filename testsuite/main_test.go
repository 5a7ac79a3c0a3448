package testsuite

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
)

// binDir holds the mcpbroker binary the package's tests share; TestMain
// removes it.
var binDir string

// buildOnce compiles the binary the first time a test needs it.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mcpbroker-testsuite-")
	if err != nil {
		return "", err
	}
	binDir = dir
	return brokerproc.BuildIn(dir)
})

// buildBinary returns the path of the mcpbroker binary of this module,
// compiled once for all the package's tests (each link takes seconds).
func buildBinary(t testing.TB) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		if err := os.RemoveAll(binDir); err != nil {
			fmt.Fprintln(os.Stderr, "testsuite:", err)
		}
	}
	os.Exit(code)
}
