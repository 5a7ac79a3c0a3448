package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// decodeJSON decodes b keeping numbers as written.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// FuzzMeta feeds raw bytes to the _meta carrier: ReadMeta and WriteMeta
// must not panic; on JSON params WriteMeta's output is JSON that decodes
// to the input with only _meta's W3C keys changed, and ReadMeta reads back
// what was written; InjectMeta then ExtractMeta round-trips the span
// context.
func FuzzMeta(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"name":"t","arguments":{"a":[1,2,{"b":null}]}}`,
		`{"_meta":{"progressToken":1,"traceparent":"` + tp1 + `"}}`,
		`{"_meta":{"traceparent":"x","traceparent":"y"},"_meta":{"baggage":"k=v"}}`,
		`{"\u005fmeta":{"trace\u0070arent":"x"}}`, `{"_meta":null}`, `[1]`, `{"a":"\"}"}`,
		` { "_meta" : { } } `, `{"_meta":{"a":{"b":[{"c":"}"}]}}}`,
	} {
		f.Add([]byte(s), "userId=alice", []byte("0123456789abcdef01234567"))
	}
	f.Fuzz(func(t *testing.T, params []byte, bag string, ids []byte) {
		meta := ReadMeta(params)
		target := ParseTarget("tools/call", params)
		if gt, gm := scanParams("tools/call", params, true); gt != target || gm != meta {
			t.Fatalf("one pass read %+v %+v, separate reads %+v %+v", gt, gm, target, meta)
		}
		_ = ResultOf("tools/call", params, nil)
		_ = ResultOf("tools/call", nil, params)
		_ = idString(params)

		c := MetaCarrier{Traceparent: tp1, Tracestate: "a=b", Baggage: strings.ToValidUTF8(bag, "")}
		out, err := WriteMeta(params, c)
		if err != nil {
			if !bytes.Equal(out, params) {
				t.Fatalf("params changed on error %v", err)
			}
		}
		if err == nil && !jsonBlank(params) && json.Valid(params) {
			checkWritten(t, params, out, c)
		}
		if jsonBlank(params) && err != nil {
			t.Fatalf("absent params: %v", err)
		}

		if len(ids) < 24 {
			return
		}
		var tid trace.TraceID
		var sid trace.SpanID
		copy(tid[:], ids)
		copy(sid[:], ids[16:])
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
		ctx := trace.ContextWithRemoteSpanContext(context.Background(), sc)
		injected, err := InjectMeta(ctx, params)
		if err != nil || !json.Valid(params) {
			return
		}
		got := trace.SpanContextFromContext(ExtractMeta(context.Background(), injected))
		if sc.IsValid() && !got.Equal(sc) {
			t.Fatalf("round trip: got %v, want %v (params %q, injected %q)", got, sc, params, injected)
		}
	})
}

// jsonBlank reports whether b is empty or JSON whitespace only.
func jsonBlank(b []byte) bool { return skipWS(b, 0) == len(b) }

// checkWritten checks WriteMeta's output against its JSON input.
func checkWritten(t *testing.T, in, out []byte, c MetaCarrier) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("output not JSON:\n in %q\nout %q", in, out)
	}
	if got := ReadMeta(out); got != c {
		t.Fatalf("ReadMeta = %+v, want %+v\nout %q", got, c, out)
	}
	vin, err1 := decodeJSON(in)
	vout, err2 := decodeJSON(out)
	if err1 != nil || err2 != nil {
		t.Fatalf("decode: %v, %v", err1, err2)
	}
	min, ok1 := vin.(map[string]any)
	mout, ok2 := vout.(map[string]any)
	if !ok1 || !ok2 {
		t.Fatalf("not objects: %q -> %q", in, out)
	}
	metaIn, _ := min["_meta"].(map[string]any)
	metaOut, _ := mout["_meta"].(map[string]any)
	delete(min, "_meta")
	delete(mout, "_meta")
	if !reflect.DeepEqual(min, mout) {
		t.Fatalf("members other than _meta changed:\n in %q\nout %q", in, out)
	}
	want := map[string]any{}
	for k, v := range metaIn {
		want[k] = v
	}
	delete(want, KeyTraceparent)
	delete(want, KeyTracestate)
	delete(want, KeyBaggage)
	for _, k := range c.Keys() {
		want[k] = c.Get(k)
	}
	if !reflect.DeepEqual(metaOut, want) {
		t.Fatalf("_meta = %v, want %v\n in %q\nout %q", metaOut, want, in, out)
	}
}
