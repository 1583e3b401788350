package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/keyward/keyward/llmwire"
	"github.com/valyala/fasthttp"
)

// maxModelList bounds a model list the gateway reads to filter it (the
// largest public lists, with descriptions, are a few MB).
const maxModelList = 16 << 20

// listsModels reports whether the request lists models
// (GET …/models) for a model-scoped key on an OpenAI-compatible API: its
// answer must show only the models in the key's scope.
func listsModels(ctx *fasthttp.RequestCtx, x *exchange, rest []byte) bool {
	if !x.st.api.openai || !x.key.scoped || !ctx.IsGet() {
		return false
	}
	rest = bytes.TrimRight(rest, "/")
	return bytes.HasSuffix(rest, []byte("/models"))
}

// modelIDOutOfScope reports whether a model-scoped key asks about one
// model (GET or DELETE …/v1/models/{id}) outside its scope.
func modelIDOutOfScope(k *keyView, rest []byte) bool {
	const prefix = "/v1/models/"
	if !k.scoped || !bytes.HasPrefix(rest, []byte(prefix)) {
		return false
	}
	id := bytes.TrimRight(rest[len(prefix):], "/")
	return len(id) > 0 && !k.allowedModel(b2s(id))
}

// relayModelList answers a model list for a scoped key: the upstream's
// 200 body, read whole, with only the entries of data whose id the key's
// model scopes admit. Anything that is not such a list fails closed (502):
// passing it on unread could show the caller every model.
func (g *Gateway) relayModelList(ctx *fasthttp.RequestCtx, x *exchange, uc *upConn, framing int) {
	var r bodyReader
	r.reset(uc.br, framing)
	body, err := io.ReadAll(io.LimitReader(&r, maxModelList+1))
	if err != nil || !r.done || len(body) > maxModelList {
		uc.discard()
	} else if x.resp.ConnectionClose() {
		uc.discard()
	} else {
		uc.release()
	}
	var out []byte
	if err == nil && r.done {
		out, err = filterModelList(body, x.key)
	}
	if err != nil || !r.done {
		ctx.Response.Header.Reset()
		g.finish(ctx, x, fasthttp.StatusBadGateway, bodyBadGateway)
		return
	}
	ctx.Response.Header.Del("Content-Length")
	ctx.Response.SetBody(out)
	g.done(x, fasthttp.StatusOK, llmwire.Usage{}, false) // a model list uses no tokens
}

var errNotAList = errors.New(`gateway: the upstream's model list is not {"data":[…]}`)

// filterModelList keeps the entries of a {"object":"list","data":[…]}
// body whose "id" k may use; other members pass unchanged. Keys are
// matched exactly and a repeated key's last value counts, as JavaScript's
// and Python's JSON readers do.
func filterModelList(body []byte, k *keyView) ([]byte, error) {
	var list map[string]json.RawMessage
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	var data []json.RawMessage
	if err := json.Unmarshal(list["data"], &data); err != nil || data == nil {
		return nil, errNotAList
	}
	kept := make([]json.RawMessage, 0, len(data))
	for _, m := range data {
		var entry map[string]json.RawMessage
		var id string
		if json.Unmarshal(m, &entry) != nil || json.Unmarshal(entry["id"], &id) != nil {
			continue // not a model entry: nothing shows it is in scope
		}
		if k.allowedModel(id) {
			kept = append(kept, m)
		}
	}
	var err error
	if list["data"], err = json.Marshal(kept); err != nil {
		return nil, err
	}
	return json.Marshal(list)
}
