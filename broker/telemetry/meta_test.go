package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

const (
	tp1 = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tp2 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
)

func TestReadMeta(t *testing.T) {
	tests := []struct {
		name   string
		params string
		want   MetaCarrier
	}{
		{"absent params", ``, MetaCarrier{}},
		{"no _meta", `{"name":"x","arguments":{"_meta":{"traceparent":"nested"}}}`, MetaCarrier{}},
		{"all keys", `{"name":"x","_meta":{"progressToken":1,"traceparent":"` + tp1 + `","tracestate":"rojo=00f067aa0ba902b7","baggage":"userId=alice"}}`,
			MetaCarrier{Traceparent: tp1, Tracestate: "rojo=00f067aa0ba902b7", Baggage: "userId=alice"}},
		{"whitespace", " {\n \"_meta\" : { \"traceparent\" :\t\"" + tp1 + "\" } } ", MetaCarrier{Traceparent: tp1}},
		{"escaped key and value", `{"\u005fmeta":{"trace\u0070arent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\u0031"}}`, MetaCarrier{Traceparent: tp1}},
		{"last duplicate wins", `{"_meta":{"traceparent":"` + tp2 + `"},"_meta":{"traceparent":"` + tp1 + `","traceparent":"` + tp2 + `"}}`, MetaCarrier{Traceparent: tp2}},
		{"non-string values ignored", `{"_meta":{"traceparent":1,"tracestate":null,"baggage":{"a":"b"}}}`, MetaCarrier{}},
		{"_meta not an object", `{"_meta":"traceparent"}`, MetaCarrier{}},
		{"array params", `[{"_meta":{"traceparent":"x"}}]`, MetaCarrier{}},
		{"key case matters", `{"_meta":{"Traceparent":"` + tp1 + `"},"_Meta":{"traceparent":"` + tp1 + `"}}`, MetaCarrier{}},
		{"malformed after the keys", `{"_meta":{"traceparent":"` + tp1 + `"`, MetaCarrier{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReadMeta([]byte(tt.params)); got != tt.want {
				t.Errorf("ReadMeta(%s) = %+v, want %+v", tt.params, got, tt.want)
			}
		})
	}
}

func TestWriteMeta(t *testing.T) {
	c := MetaCarrier{Traceparent: tp1, Tracestate: "a=b"}
	meta := `"traceparent":"` + tp1 + `","tracestate":"a=b"`
	tests := []struct {
		name    string
		params  string
		c       MetaCarrier
		want    string
		wantErr error
	}{
		{"absent params", ``, c, `{"_meta":{` + meta + `}}`, nil},
		{"whitespace params", " \n", c, `{"_meta":{` + meta + `}}`, nil},
		{"empty object", `{}`, c, `{"_meta":{` + meta + `}}`, nil},
		{"empty object with space", `{ }`, c, `{ "_meta":{` + meta + `}}`, nil},
		{"no _meta: appended, rest byte for byte", `{"name":"t", "arguments":{"n":1.50e3,"s":"\u00e9"}}`, c,
			`{"name":"t", "arguments":{"n":1.50e3,"s":"\u00e9"},"_meta":{` + meta + `}}`, nil},
		{"trailing whitespace kept", "{\"a\":1}\n", c, "{\"a\":1,\"_meta\":{" + meta + "}}\n", nil},
		{"empty _meta", `{"_meta":{},"a":1}`, c, `{"_meta":{` + meta + `},"a":1}`, nil},
		{"_meta with other keys", `{"_meta":{"progressToken":"p", "x":[1,{"traceparent":"no"}]}}`, c,
			`{"_meta":{"progressToken":"p", "x":[1,{"traceparent":"no"}],` + meta + `}}`, nil},
		{"old keys replaced", `{"_meta":{"traceparent":"old","progressToken":7,"baggage":"k=v","tracestate":"old"}}`, c,
			`{"_meta":{"progressToken":7,` + meta + `}}`, nil},
		{"old keys in the middle, separators kept", "{\"_meta\":{ \"a\":1 ,\n \"traceparent\":\"old\" ,\n \"b\":2 }}", c,
			"{\"_meta\":{ \"a\":1 ,\n \"b\":2," + meta + " }}", nil},
		{"only old keys", `{"_meta":{ "traceparent":"old" }}`, c, `{"_meta":{ ` + meta + ` }}`, nil},
		{"escaped old key replaced", `{"_meta":{"trace\u0070arent":"old"}}`, c, `{"_meta":{` + meta + `}}`, nil},
		{"value escaping", `{}`, MetaCarrier{Baggage: "k=\"v\"\\é\n"}, `{"_meta":{"baggage":"k=\"v\"\\é\n"}}`, nil},
		{"empty carrier: unchanged", `not json`, MetaCarrier{}, `not json`, nil},
		{"array params", `[1,2]`, c, `[1,2]`, ErrParamsNotObject},
		{"string params", `"x"`, c, `"x"`, ErrParamsNotObject},
		{"truncated", `{"a":1`, c, `{"a":1`, ErrParamsNotObject},
		{"trailing garbage", `{"a":1}x`, c, `{"a":1}x`, ErrParamsNotObject},
		{"_meta null", `{"_meta":null}`, c, `{"_meta":null}`, ErrMetaNotObject},
		{"_meta array", `{"_meta":[]}`, c, `{"_meta":[]}`, ErrMetaNotObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WriteMeta([]byte(tt.params), tt.c)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("WriteMeta(%q)\n got %s\nwant %s", tt.params, got, tt.want)
			}
			if err == nil && !tt.c.Empty() {
				if !json.Valid(got) {
					t.Errorf("output is not JSON: %s", got)
				}
				if back := ReadMeta(got); back != tt.c {
					t.Errorf("ReadMeta(WriteMeta) = %+v, want %+v", back, tt.c)
				}
			}
		})
	}
}

// TestWriteMetaInputUntouched: WriteMeta never writes into its input,
// even when the input slice has spare capacity.
func TestWriteMetaInputUntouched(t *testing.T) {
	buf := make([]byte, 0, 256)
	buf = append(buf, `{"_meta":{"a":1}}`...)
	orig := append([]byte(nil), buf...)
	if _, err := WriteMeta(buf, MetaCarrier{Traceparent: tp1}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, orig) || !bytes.Equal(buf[:cap(buf)][len(buf):], make([]byte, cap(buf)-len(buf))) {
		t.Errorf("input modified: %q", buf[:cap(buf)])
	}
}

func spanCtx(t *testing.T, traceparent string) context.Context {
	t.Helper()
	ctx := ExtractMeta(context.Background(), []byte(`{"_meta":{"traceparent":"`+traceparent+`"}}`))
	if !trace.SpanContextFromContext(ctx).IsValid() {
		t.Fatalf("no span context from %s", traceparent)
	}
	return ctx
}

func TestInjectExtractMeta(t *testing.T) {
	ctx := spanCtx(t, tp1)
	bag, err := baggage.Parse("userId=alice,tier=gold")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		ctx         context.Context
		params      string
		wantSame    bool
		wantBaggage string
	}{
		{"no span context: unchanged", context.Background(), `{"a":1}`, true, ""},
		{"span context", ctx, `{"a":1}`, false, ""},
		{"span context and baggage", baggage.ContextWithBaggage(ctx, bag), `{"_meta":{"progressToken":1}}`, false, "userId=alice,tier=gold"},
		{"unsampled context injected too", spanCtx(t, tp2), `{}`, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := InjectMeta(tt.ctx, []byte(tt.params))
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantSame {
				if string(out) != tt.params {
					t.Fatalf("params changed: %s", out)
				}
				return
			}
			back := ExtractMeta(context.Background(), out)
			if got, want := trace.SpanContextFromContext(back), trace.SpanContextFromContext(tt.ctx).WithRemote(true); !got.Equal(want) {
				t.Errorf("extracted %v, want %v", got, want)
			}
			if tt.wantBaggage != "" {
				want, _ := baggage.Parse(tt.wantBaggage)
				if got := baggage.FromContext(back); got.Len() != want.Len() {
					t.Errorf("baggage = %v, want %v", got, want)
				}
				if baggage.FromContext(back).Member("userId").Value() != "alice" {
					t.Errorf("baggage userId = %q", baggage.FromContext(back).Member("userId").Value())
				}
			}
		})
	}
}

func TestExtractMetaInvalid(t *testing.T) {
	tests := []string{
		`{"_meta":{"traceparent":"garbage"}}`,
		`{"_meta":{"traceparent":"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}}`,
		`{"_meta":{"traceparent":"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}`,
		`{"_meta":{}}`,
		`{}`,
	}
	for _, p := range tests {
		if sc := trace.SpanContextFromContext(ExtractMeta(context.Background(), []byte(p))); sc.IsValid() {
			t.Errorf("ExtractMeta(%s) = %v, want no span context", p, sc)
		}
	}
}

func TestInjectMessage(t *testing.T) {
	ctx := spanCtx(t, tp1)
	meta := `"_meta":{"traceparent":"` + tp1 + `"}`
	tests := []struct {
		name    string
		msg     string
		want    string
		wantErr error
	}{
		{"request with params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}`,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t",` + meta + `}}`, nil},
		{"params before method", `{"params":{},"jsonrpc":"2.0","method":"ping","id":"x"}`,
			`{"params":{` + meta + `},"jsonrpc":"2.0","method":"ping","id":"x"}`, nil},
		{"notification without params", `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			`{"jsonrpc":"2.0","method":"notifications/initialized","params":{` + meta + `}}`, nil},
		{"positional params", `{"jsonrpc":"2.0","method":"m","params":[1]}`, `{"jsonrpc":"2.0","method":"m","params":[1]}`, ErrParamsNotObject},
		{"not an object", `[]`, `[]`, ErrParamsNotObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := InjectMessage(ctx, []byte(tt.msg))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
	if got, _ := InjectMessage(context.Background(), []byte(`{"x":1}`)); string(got) != `{"x":1}` {
		t.Errorf("no context: message changed: %s", got)
	}
}

func TestHTTPCarrier(t *testing.T) {
	ctx := spanCtx(t, tp1)
	bag, _ := baggage.Parse("k=v")
	ctx = baggage.ContextWithBaggage(ctx, bag)
	h := http.Header{}
	InjectHTTP(ctx, h)
	if got := h.Get("Traceparent"); got != tp1 {
		t.Errorf("traceparent header = %q, want %q", got, tp1)
	}
	if got := h.Get("Baggage"); got != "k=v" {
		t.Errorf("baggage header = %q", got)
	}
	back := ExtractHTTP(context.Background(), h)
	if !trace.SpanContextFromContext(back).Equal(trace.SpanContextFromContext(ctx)) {
		t.Errorf("round trip lost the span context")
	}
	if baggage.FromContext(back).Member("k").Value() != "v" {
		t.Errorf("round trip lost the baggage")
	}
}

func TestMetaCarrier(t *testing.T) {
	var c MetaCarrier
	if !c.Empty() || len(c.Keys()) != 0 {
		t.Fatal("zero carrier not empty")
	}
	c.Set("other", "x")
	c.Set(KeyTracestate, "s")
	c.Set(KeyBaggage, "b")
	if got := c.Keys(); !reflect.DeepEqual(got, []string{KeyTracestate, KeyBaggage}) {
		t.Errorf("Keys = %v", got)
	}
	if c.Get("other") != "" || c.Get(KeyTracestate) != "s" || c.Get(KeyBaggage) != "b" || c.Get(KeyTraceparent) != "" {
		t.Errorf("Get: %+v", c)
	}
	if Propagator() == nil || len(Propagator().Fields()) != 3 {
		t.Errorf("Propagator fields = %v", Propagator().Fields())
	}
}
