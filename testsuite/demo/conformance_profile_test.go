package demo_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// TestConformanceProfile checks the fixtures of --profile conformance in
// every revision it serves, with strict fixture clients (every message
// the server sends is validated against the revision): the tools of the
// official suite's scenarios, as the revision can express them (audio
// content from 2025-03-26, elicitation from 2025-06-18), its resources,
// template, prompts and completions. 2026-07-28 and unknown profiles are
// refused.
func TestConformanceProfile(t *testing.T) {
	if _, err := demo.New(schemas.V20260728, demo.WithProfile(demo.ProfileConformance)); err == nil {
		t.Error("profile conformance at 2026-07-28: no error")
	}
	if _, err := demo.New(schemas.V20241105, demo.WithProfile("nope")); err == nil {
		t.Error("unknown profile: no error")
	}
	profile := []demo.Option{demo.WithProfile(demo.ProfileConformance)}
	for _, rev := range revisions() {
		t.Run(rev.String(), func(t *testing.T) {
			h := startInit(t, rev, profile, fixture.WithSamplingText("Paris"),
				fixture.WithElicitation("accept", map[string]any{"name": "Ada", "color": "blue"}),
				fixture.WithRoots([]fixture.Root{{URI: "file:///tmp", Name: "tmp"}}))
			var list struct {
				Tools []struct {
					Name string `json:"name"`
				} `json:"tools"`
			}
			if err := json.Unmarshal(mustCall(t, h, "tools/list", nil), &list); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tl := range list.Tools {
				names = append(names, tl.Name)
			}
			for _, want := range []string{"test_simple_text", "test_image_content", "test_audio_content", "test_embedded_resource",
				"test_multiple_content_types", "test_tool_with_logging", "test_tool_with_progress", "test_error_handling",
				"test_sampling", "test_missing_capability", "test_input_required_result_sampling", "test_input_required_result_list_roots"} {
				if !slices.Contains(names, want) {
					t.Errorf("tools/list lacks %s: %v", want, names)
				}
			}
			if got := slices.Contains(names, "test_elicitation"); got != (rev >= schemas.V20250618) {
				t.Errorf("test_elicitation listed: %t at %s", got, rev)
			}
			if !slices.Contains(names, "test_trigger_tool_change") {
				t.Errorf("tools/list lacks test_trigger_tool_change: %v", names)
			}
			h.tool(t, "test_trigger_tool_change", nil)
			if slices.Contains(names, "echo") {
				t.Error("the conformance profile lists the default profile's echo")
			}

			if r := h.tool(t, "test_simple_text", nil); r.Text() != "This is a simple text response for testing." {
				t.Errorf("test_simple_text: %q", r.Text())
			}
			audio := string(mustCall(t, h, "tools/call", map[string]any{"name": "test_audio_content", "arguments": map[string]any{}}))
			if wantAudio := rev >= schemas.V20250326; strings.Contains(audio, `"type":"audio"`) != wantAudio {
				t.Errorf("test_audio_content at %s: %s", rev, audio)
			}
			mixed := string(mustCall(t, h, "tools/call", map[string]any{"name": "test_multiple_content_types", "arguments": map[string]any{}}))
			for _, typ := range []string{"text", "image", "resource"} {
				if !strings.Contains(mixed, `"type":"`+typ+`"`) {
					t.Errorf("test_multiple_content_types lacks %s content: %s", typ, mixed)
				}
			}
			if r, err := h.client.CallTool(h.ctx, "test_error_handling", nil); err != nil || !r.IsError {
				t.Errorf("test_error_handling: %v, %+v; want a tool error", err, r)
			}
			if r := h.tool(t, "test_sampling", map[string]any{"prompt": "Capital of France?"}); r.Text() != "LLM response: Paris" {
				t.Errorf("test_sampling: %q", r.Text())
			}

			if rev >= schemas.V20250618 {
				if r := h.tool(t, "test_input_required_result_elicitation", nil); r.Text() != "Hello, Ada!" {
					t.Errorf("test_input_required_result_elicitation: %q", r.Text())
				}
				if r := h.tool(t, "test_input_required_result_multi_round", nil); r.Text() != "Ada likes blue." {
					t.Errorf("test_input_required_result_multi_round: %q", r.Text())
				}
				h.tool(t, "test_input_required_result_multiple_inputs", nil)
				if n := len(h.client.ServerRequests()); n < 6 {
					t.Errorf("%d server requests, want at least 6 (sampling, 3 elicitations, sampling and roots)", n)
				}
				got := string(mustCall(t, h, "prompts/get", map[string]any{"name": "test_input_required_result_prompt"}))
				if !strings.Contains(got, "Use this context") {
					t.Errorf("test_input_required_result_prompt: %s", got)
				}
			}

			read := string(mustCall(t, h, "resources/read", map[string]any{"uri": "test://template/123/data"}))
			if !strings.Contains(read, `Data for ID: 123`) || !strings.Contains(read, `application/json`) {
				t.Errorf("template read: %s", read)
			}
			if read := string(mustCall(t, h, "resources/read", map[string]any{"uri": "test://static-text"})); !strings.Contains(read, "static text resource") {
				t.Errorf("static text read: %s", read)
			}
			_, err := h.client.Call(h.ctx, "resources/read", map[string]any{"uri": "test://nonexistent"})
			wantCode(t, err, -32002)
			mustCall(t, h, "resources/subscribe", map[string]any{"uri": "test://watched-resource"})

			got := string(mustCall(t, h, "prompts/get", map[string]any{"name": "test_prompt_with_arguments", "arguments": map[string]any{"arg1": "hello", "arg2": "world"}}))
			if !strings.Contains(got, "arg1='hello', arg2='world'") {
				t.Errorf("test_prompt_with_arguments: %s", got)
			}
			got = string(mustCall(t, h, "completion/complete", map[string]any{
				"ref": map[string]any{"type": "ref/prompt", "name": "test_prompt_with_arguments"}, "argument": map[string]any{"name": "arg1", "value": "par"},
			}))
			if !strings.Contains(got, `"values":["paris","park","party"]`) {
				t.Errorf("completion: %s", got)
			}
		})
	}
}

// mustCall calls method and returns its result.
func mustCall(t *testing.T, h *harness, method string, params any) json.RawMessage {
	t.Helper()
	raw, err := h.client.Call(h.ctx, method, params)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return raw
}
