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
// Text, when not nil, is fastpath's verdict on the same instance given as
// the message's JSON text (ValidJSON or ValidObject), as Validate asks it.
type FastPair struct {
	What string
	Fast *fastpath.Schema
	Slow *jsonschema.Schema
	Inst any
	Text func() bool
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
		ms := callMembers(m, appendJSONString(nil, m.Method))
		out = append(out, FastPair{"envelope", fastEnv, env, inst, textObject(ms, fastEnv)})
		if me, ok := rs.methods[m.Method]; ok {
			out = append(out, FastPair{me.message, me.fastMsg, me.msgSch, inst, textObject(ms, me.fastMsg)})
		}
	case jsonrpc.KindResult:
		res, ok := dec(m.Result)
		if !ok {
			return nil
		}
		env := map[string]any{"jsonrpc": "2.0", "id": idValue(m.ID), "result": res}
		ms := []fastpath.Member{{Name: "jsonrpc", Value: jsonrpcVersion}, {Name: "id", Value: m.ID}, {Name: "result", Value: m.Result}}
		out = append(out, FastPair{"result envelope", rs.fastResult, rs.resultSch, env, textObject(ms, rs.fastResult)})
		for name, me := range rs.methods {
			if method != "" && name != method {
				continue
			}
			for i := range me.resSch {
				out = append(out, FastPair{me.results[i], me.fastRes[i], me.resSch[i], res, textValue(me.fastRes[i], m.Result)})
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
		ms := []fastpath.Member{{Name: "jsonrpc", Value: jsonrpcVersion}, {Name: "error", Value: m.Error}}
		if len(m.ID) > 0 {
			ms = append(ms, fastpath.Member{Name: "id", Value: m.ID})
		}
		out = append(out, FastPair{"error envelope", rs.fastError, rs.errorSch, inst, textObject(ms, rs.fastError)})
	}
	return out
}

func callMembers(m *jsonrpc.Message, method []byte) []fastpath.Member {
	ms := []fastpath.Member{{Name: "jsonrpc", Value: jsonrpcVersion}, {Name: "method", Value: method}}
	if m.Kind == jsonrpc.KindRequest {
		ms = append(ms, fastpath.Member{Name: "id", Value: m.ID})
	}
	if m.Params != nil {
		ms = append(ms, fastpath.Member{Name: "params", Value: m.Params})
	}
	return ms
}

func textObject(ms []fastpath.Member, s *fastpath.Schema) func() bool {
	return func() bool { return s != nil && fastpath.ValidObject(ms, s) }
}

func textValue(s *fastpath.Schema, raw []byte) func() bool {
	return func() bool { return s != nil && s.ValidJSON(raw) }
}

// FastMessage returns the verdict of Validate's fast path on a message
// (its envelope, params, result or error; for a result, the result
// definitions of method) and jsonschema's verdict on the same checks. ok is
// false when Validate would not get to those checks (unknown method, bad
// id, ...) or the message's part is not JSON.
func (v *Validator) FastMessage(r Revision, m *jsonrpc.Message, method string) (fast, slow, ok bool) {
	rs := v.rev(r)
	switch m.Kind {
	case jsonrpc.KindRequest, jsonrpc.KindNotification:
		me, found := rs.methods[m.Method]
		if !found || (me.kind == "request") != (m.Kind == jsonrpc.KindRequest) || (m.Kind == jsonrpc.KindRequest && !validID(m.ID)) {
			return false, false, false
		}
		env, fastEnv := rs.notificationSch, rs.fastNotification
		inst := map[string]any{"jsonrpc": "2.0", "method": m.Method}
		if m.Kind == jsonrpc.KindRequest {
			inst["id"] = idValue(m.ID)
			env, fastEnv = rs.requestSch, rs.fastRequest
		}
		if m.Params != nil {
			p, err := decode(m.Params)
			if err != nil {
				return false, false, false
			}
			inst["params"] = p
		}
		fast = fastCall(m, me.quoted, fastEnv, me.fastMsg)
		s1, ok1 := SlowValid(env, inst)
		s2, ok2 := SlowValid(me.msgSch, inst)
		return fast, s1 && s2, ok1 && ok2
	case jsonrpc.KindResult:
		me, found := rs.methods[method]
		if !found || me.kind != "request" || !validID(m.ID) {
			return false, false, false
		}
		res, err := decode(m.Result)
		if err != nil {
			return false, false, false
		}
		env := map[string]any{"jsonrpc": "2.0", "id": idValue(m.ID), "result": res}
		fast = fastResult(m, rs.fastResult, me.fastRes)
		sv, ok := SlowValid(rs.resultSch, env)
		if !ok {
			return false, false, false
		}
		if sv {
			sv = false
			for _, s := range me.resSch {
				v, ok := SlowValid(s, res)
				if !ok {
					return false, false, false
				}
				if v {
					sv = true
					break
				}
			}
		}
		return fast, sv, true
	case jsonrpc.KindError:
		if (len(m.ID) > 0 || r < V20251125) && !validID(m.ID) {
			return false, false, false
		}
		e, err := decode(m.Error)
		if err != nil {
			return false, false, false
		}
		inst := map[string]any{"jsonrpc": "2.0", "error": e}
		if len(m.ID) > 0 {
			inst["id"] = idValue(m.ID)
		}
		sv, ok := SlowValid(rs.errorSch, inst)
		return fastError(m, rs.fastError), sv, ok
	}
	return false, false, false
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

// SlowValid is jsonschema's verdict; decided is false when jsonschema
// panics (on numbers math/big cannot parse, such as 1e1000001).
func SlowValid(s *jsonschema.Schema, inst any) (valid, decided bool) {
	defer func() {
		if recover() != nil {
			valid, decided = false, false
		}
	}()
	return s.Validate(inst) == nil, true
}

// Decode is the decoder Validate uses.
func Decode(raw []byte) (any, error) { return decode(raw) }
