package conformance

import (
	"context"
	"regexp"
	"slices"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas"
)

// metaLogLevel is the params._meta key of a stateless request's log level
// (2026-07-28 replaced logging/setLevel with it).
const metaLogLevel = "io.modelcontextprotocol/logLevel"

// How long callLogging waits for log messages that arrive after the
// response: for the first one at level debug, and for late ones.
const (
	logWait   = 2 * time.Second
	logSettle = 150 * time.Millisecond
	logPoll   = 20 * time.Millisecond
)

// levelRank returns the rank of an MCP logging level (a syslog severity,
// debug lowest), or -1 if it is not one.
func levelRank(level string) int {
	return slices.Index([]string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}, level)
}

// loggingTool returns the first tool whose name or description says it
// logs ("logs", "logging"; not "login").
func loggingTool(tools []toolDef) (toolDef, bool) {
	logWord := regexp.MustCompile(`(?i)\blog(s|ged|ging)?\b`)
	for _, tl := range tools {
		if logWord.MatchString(tl.Name) || logWord.MatchString(tl.Description) {
			return tl, true
		}
	}
	return toolDef{}, false
}

// callLogging calls the tool with the log level level ("" for none:
// only in 2026-07-28, where the level is per request) and returns the
// notifications/message that arrived while it ran.
func callLogging(ctx context.Context, t *T, tl toolDef, level string) []Notification {
	params := map[string]any{"name": tl.Name, "arguments": synthArgs(tl.InputSchema, false)}
	if t.Rev.Stateless() {
		meta := t.Meta()
		if level != "" {
			meta[metaLogLevel] = level
		}
		params["_meta"] = meta
	} else {
		result(ctx, t, "logging/setLevel", map[string]any{"level": level})
	}
	before := len(t.Notifications())
	result(ctx, t, "tools/call", params)
	messages := func() []Notification {
		var out []Notification
		for _, n := range t.Notifications()[before:] {
			if n.Method == "notifications/message" {
				out = append(out, n)
			}
		}
		return out
	}
	// Over HTTP a log message may come after the response (a server or
	// a gateway that cannot tie it to the request sends it on another
	// stream): wait for the first one at debug, and a little for late
	// ones at other levels. A stdio server writes it before the response.
	if t.target.Kind == KindStdio {
		return messages()
	}
	if level == "debug" {
		deadline := time.Now().Add(logWait)
		for len(messages()) == 0 && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(logPoll)
		}
		return messages()
	}
	select {
	case <-time.After(logSettle):
	case <-ctx.Done():
	}
	return messages()
}

// loggingLevelScenario checks that the server honours the log level the
// client set: logging/setLevel up to 2025-11-25, the request's _meta
// logLevel in 2026-07-28 (where a request without one gets no log
// messages at all).
func loggingLevelScenario() Scenario {
	return Scenario{
		ID: "logging/levels", Title: "after the log level is set to error, a tool that logs sends no notifications/message below error",
		Spec: "server/utilities/logging", Severity: Must, Revisions: schemas.All(), Transport: AnyTransport,
		Run: func(ctx context.Context, t *T) {
			t.Require("logging")
			tl, ok := loggingTool(listTools(ctx, t))
			if !ok {
				t.Skip("no tool says it logs")
			}
			// Twice at most: a gateway that sets the level and sends the
			// call back to back, to a server that handles requests
			// concurrently, may lose the first call's messages.
			logged := false
			for range 2 {
				if logged = len(callLogging(ctx, t, tl, "debug")) > 0; logged {
					break
				}
			}
			if !logged {
				t.Skip("tool %s sent no notifications/message at level debug", tl.Name)
			}
			check := func(level string, got []Notification) {
				for _, n := range got {
					var p struct {
						Level string `json:"level"`
					}
					decode(t, "notifications/message", n.Params, &p)
					switch {
					case level == "":
						t.Fail("a request without _meta %s got notifications/message at level %q; it MUST get none", metaLogLevel, p.Level)
					case levelRank(p.Level) < levelRank(level):
						t.Fail("after setting the log level to %s, tool %s sent notifications/message at level %q", level, tl.Name, p.Level)
					}
				}
			}
			check("error", callLogging(ctx, t, tl, "error"))
			if t.Rev.Stateless() {
				check("", callLogging(ctx, t, tl, ""))
			}
		},
	}
}
