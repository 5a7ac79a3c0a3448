package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mcpbroker/mcpbroker/schemas/internal/fastpath"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// Test access to fastpath: the schemas Validate checks with fastpath
// first, paired with the jsonschema schemas it falls back to.

// FastPair is an instance with the fastpath and jsonschema schemas
// Validate applies to it; Fast is nil when fastpath has no schema for it.
type FastPair struct {
	What string
	Fast *fastpath.Schema
	Slow *jsonschema.Schema
	Inst any
}

// FastPairs returns the instances Validate builds for a message under
// revision r and the schemas it checks them against. For a result whose
// method is unknown, the result is paired with every result definition.
func (v *Validator) FastPairs(r Revision, m *jsonrpc.Message, method string) []FastPair {
	rs := v.rev(r)
	var out []FastPair
	dec := func(raw json.RawMessage) (any, bool) {
		x, err := decode(raw)
		return x, err == nil
	}
	switch m.Kind {
	case jsonrpc.KindRequest, jsonrpc.KindNotification:
		inst := map[string]any{"jsonrpc": "2.0", "method": m.Method}
		env, fastEnv := rs.notificationSch, rs.fastNotification
		if m.Kind == jsonrpc.KindRequest {
			inst["id"] = idValue(m.ID)
			env, fastEnv = rs.requestSch, rs.fastRequest
		}
		if m.Params != nil {
			p, ok := dec(m.Params)
			if !ok {
				return nil
			}
			inst["params"] = p
		}
		out = append(out, FastPair{"envelope", fastEnv, env, inst})
		if me, ok := rs.methods[m.Method]; ok {
			out = append(out, FastPair{me.message, me.fastMsg, me.msgSch, inst})
		}
	case jsonrpc.KindResult:
		res, ok := dec(m.Result)
		if !ok {
			return nil
		}
		env := map[string]any{"jsonrpc": "2.0", "id": idValue(m.ID), "result": res}
		out = append(out, FastPair{"result envelope", rs.fastResult, rs.resultSch, env})
		for name, me := range rs.methods {
			if method != "" && name != method {
				continue
			}
			for i := range me.resSch {
				out = append(out, FastPair{me.results[i], me.fastRes[i], me.resSch[i], res})
			}
		}
	case jsonrpc.KindError:
		e, ok := dec(m.Error)
		if !ok {
			return nil
		}
		inst := map[string]any{"jsonrpc": "2.0", "error": e}
		if len(m.ID) > 0 {
			inst["id"] = idValue(m.ID)
		}
		out = append(out, FastPair{"error envelope", rs.fastError, rs.errorSch, inst})
	}
	return out
}

// FastCovered lists what of revision r Validate checks without a fastpath
// schema.
func (v *Validator) FastCovered(r Revision) (missing []string) {
	rs := v.rev(r)
	for name, me := range rs.methods {
		if me.fastMsg == nil {
			missing = append(missing, name+" "+me.message)
		}
		for i, s := range me.fastRes {
			if s == nil {
				missing = append(missing, name+" "+me.results[i])
			}
		}
	}
	for def, s := range map[string]*fastpath.Schema{"request": rs.fastRequest, "notification": rs.fastNotification, "result": rs.fastResult, "error": rs.fastError} {
		if s == nil {
			missing = append(missing, def+" envelope")
		}
	}
	return missing
}

// FastDefs compiles every definition of revision r with fastpath and with
// jsonschema.
func (v *Validator) FastDefs(r Revision) (map[string]FastPair, error) {
	raw, err := Schema(r)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	fc, err := fastpath.NewCompiler(doc)
	if err != nil {
		return nil, err
	}
	out := map[string]FastPair{}
	for _, def := range v.DefNames(r) {
		fast, err := fc.Compile("#/$defs/" + def)
		if err != nil {
			return nil, fmt.Errorf("fastpath cannot compile %s: %w", def, err)
		}
		slow, err := v.compileDef(v.rev(r), def)
		if err != nil {
			return nil, err
		}
		out[def] = FastPair{What: def, Fast: fast, Slow: slow}
	}
	return out, nil
}

// Decode is the decoder Validate uses.
func Decode(raw []byte) (any, error) { return decode(raw) }
