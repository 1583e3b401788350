package llmwire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

// pythonReader reads each hex-encoded body on stdin with json.loads, as a
// Python upstream would, and prints what it finds as one JSON line.
const pythonReader = `
import json, sys
for line in sys.stdin:
    d = json.loads(bytes.fromhex(line.strip()))
    so = d.get("stream_options") or {}
    print(json.dumps(["model" in d, d.get("model"), d.get("max_tokens"), d.get("max_completion_tokens"), d.get("stream"), so.get("include_usage")]))
`

// TestParseRequestAgainstPython checks that accepted bodies read the same to
// Python's json.loads (last duplicate wins, case-sensitive keys, lone
// surrogates kept). It is skipped when python3 is not installed.
func TestParseRequestAgainstPython(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	r := rand.New(rand.NewPCG(3, 4))
	var bodies [][]byte
	var reqs []Request
	var in strings.Builder
	for len(bodies) < 5000 {
		body := genBody(r)
		got, err := ParseRequest(body)
		if err != nil || len(bytes.Trim(body, " \t\r\n")) == 0 {
			continue
		}
		bodies, reqs = append(bodies, body), append(reqs, got)
		in.WriteString(hex.EncodeToString(body))
		in.WriteByte('\n')
	}
	cmd := exec.Command(py, "-c", pythonReader)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for i := range bodies {
		if !sc.Scan() {
			t.Fatalf("python3 stopped after %d bodies", i)
		}
		var v [6]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		var hasModel bool
		var model *string
		var maxTok, maxComp *int64
		var stream, iu *bool
		json.Unmarshal(v[0], &hasModel)
		json.Unmarshal(v[1], &model)
		json.Unmarshal(v[2], &maxTok)
		json.Unmarshal(v[3], &maxComp)
		json.Unmarshal(v[4], &stream)
		json.Unmarshal(v[5], &iu)
		got, body := reqs[i], bodies[i]
		if hasModel != got.HasModel || model != nil && *model != string(got.Model) || hasModel && model == nil {
			t.Fatalf("%q: Python model %v %q, ParseRequest %v %q", body, hasModel, v[1], got.HasModel, got.Model)
		}
		mt := int64(-1)
		for _, p := range []*int64{maxTok, maxComp} {
			if p != nil {
				mt = max(mt, *p)
			}
		}
		if mt != got.MaxTokens || (stream != nil && *stream) != got.Stream || (iu != nil && *iu) != got.IncludeUsage {
			t.Fatalf("%q: Python reads %s, ParseRequest %s", body, sc.Bytes(), fmtRequest(got))
		}
	}
}
