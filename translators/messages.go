package translators

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Message builders the broker uses when it speaks for itself (answers,
// cancellations) or rewrites a request it forwards. They work on raw JSON
// and are the same in every revision.

// EmptyResult is the response {} to the request with the given raw id.
func EmptyResult(id json.RawMessage) []byte {
	b := make([]byte, 0, 40+len(id))
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	return append(b, `,"result":{}}`...)
}

// CancelledNotification is a notifications/cancelled for the request with
// the given raw id, with reason (a JSON string is written for it; reasons
// are the broker's own ASCII texts).
func CancelledNotification(id json.RawMessage, reason string) []byte {
	r, err := json.Marshal(reason)
	if err != nil {
		r = strconv.AppendQuote(nil, reason)
	}
	b := make([]byte, 0, 96+len(id)+len(r))
	b = append(b, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":`...)
	b = append(b, id...)
	b = append(b, `,"reason":`...)
	b = append(b, r...)
	return append(b, `}}`...)
}

// SetParam returns the message raw with params[key] replaced by the JSON
// value v.
func SetParam(raw []byte, key string, v json.RawMessage) []byte {
	n := Parse(raw)
	n.Get("params").Set(key, Parse(v))
	return n.Raw()
}

// RequestMeta returns the params._meta object of the message node n,
// creating params and _meta (replacing non-objects) where missing, so that
// the caller can set keys in it.
func RequestMeta(n *Node) *Node {
	p := n.Get("params")
	if !p.IsObject() {
		p = NewObject()
		n.Set("params", p)
	}
	meta := p.Get("_meta")
	if !meta.IsObject() {
		meta = NewObject()
		p.Set("_meta", meta)
	}
	return meta
}

// ProgressToken returns params._meta.progressToken of a request's params
// (a string or a number, as raw JSON), or nil.
func ProgressToken(params json.RawMessage) json.RawMessage {
	if !bytes.Contains(params, []byte(`"progressToken"`)) {
		return nil
	}
	t := Parse(params).Get("_meta").Get("progressToken")
	if t.IsString() || t.IsNumber() {
		return bytes.Clone(t.Raw())
	}
	return nil
}
