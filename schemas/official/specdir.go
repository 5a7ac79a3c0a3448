package official

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SpecDir returns the folder that holds the official MCP schemas
// (shared/spec beside the repository root). It walks up from the working
// directory and takes the first ancestor that has a shared/spec folder with
// at least one <rev>/schema.json in it, so the repository may be checked out
// anywhere as long as shared/ sits next to it.
//
// When the folder is not found, SpecDir fails the test if the environment
// variable CI is "true" (CI must run the differential tests), and skips it
// otherwise.
func SpecDir(t testing.TB) string {
	t.Helper()
	dir, err := findSpecDir()
	if err == nil {
		return dir
	}
	if strings.EqualFold(os.Getenv("CI"), "true") {
		t.Fatalf("official MCP schemas not found (CI=true, so this is fatal): %v; "+
			"check out the shared/ folder beside the repository root so that ../shared/spec/<rev>/schema.json exists", err)
	}
	t.Skip("../shared/spec not found; differential tests need it")
	return ""
}

// findSpecDir walks up from the working directory looking for
// <ancestor>/shared/spec/<rev>/schema.json.
func findSpecDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for dir := wd; ; {
		cand := filepath.Join(dir, "shared", "spec")
		if hasSchemas(cand) {
			return cand, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no shared/spec/<rev>/schema.json in %s or any parent", wd)
		}
		dir = parent
	}
}

// hasSchemas reports whether dir holds at least one <rev>/schema.json.
func hasSchemas(dir string) bool {
	matches, err := filepath.Glob(filepath.Join(dir, "*", "schema.json"))
	return err == nil && len(matches) > 0
}

// repoRoot walks up from the working directory to the root of the
// mcpbroker module (the folder whose go.mod declares it).
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for dir := wd; ; {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && declaresModule(string(b), modulePath) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s in %s or any parent", modulePath, wd)
		}
		dir = parent
	}
}

// modulePath is the module the corpus belongs to.
const modulePath = "github.com/mcpbroker/mcpbroker"

// declaresModule reports whether a go.mod text declares module path.
func declaresModule(gomod, path string) bool {
	for _, line := range strings.Split(gomod, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == path {
			return true
		}
	}
	return false
}
