package audit_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/keyward/keyward/audit"
)

// exportLines returns a JSONL export of n records with checkpoints at the
// given sizes (the last must be n), one line a string.
func exportLines(t *testing.T, n int, at ...int) []string {
	t.Helper()
	recs := chain(t, n)
	var buf bytes.Buffer
	w := audit.NewJSONLWriter(&buf)
	w.WriteKey(testSigner.Verifier())
	next := 0
	for i, r := range recs {
		w.WriteRecord(r)
		if next < len(at) && at[next] == i+1 {
			w.WriteCheckpoint(checkpoint(t, recs[:i+1]))
			next++
		}
	}
	return strings.SplitAfter(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

func verifyLines(t *testing.T, lines []string) bool {
	t.Helper()
	res, err := audit.VerifyJSONL(strings.NewReader(strings.Join(lines, "")), audit.FileOptions{Pinned: testSigner.Verifier()})
	if err != nil {
		t.Fatal(err)
	}
	return res.OK
}

// TestFileTamperingProperty edits an export at random — a record removed,
// duplicated, inserted from elsewhere, two records swapped, a byte of an
// event changed, the file cut short — and every edit must fail
// verification with the pinned key. The one edit a file cannot show by
// itself is a cut right after a checkpoint line: that is a complete, older
// export; `keyward audit verify --since` against a newer checkpoint shows it.
func TestFileTamperingProperty(t *testing.T) {
	lines := exportLines(t, 20, 3, 7, 12, 20)
	if !verifyLines(t, lines) {
		t.Fatal("the untouched export does not verify")
	}
	var records []int
	for i, l := range lines {
		if strings.Contains(l, `"type":"record"`) {
			records = append(records, i)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 500; iter++ {
		m := append([]string(nil), lines...)
		kind := iter % 6
		switch kind {
		case 0: // remove a record
			i := records[rng.IntN(len(records))]
			m = append(m[:i], m[i+1:]...)
		case 1: // duplicate a record
			i := records[rng.IntN(len(records))]
			m = append(m[:i+1], m[i:]...)
		case 2: // swap two records
			i, j := records[rng.IntN(len(records))], records[rng.IntN(len(records))]
			if i == j {
				continue
			}
			m[i], m[j] = m[j], m[i]
		case 3: // change a letter of an event's name
			i := records[rng.IntN(len(records))]
			m[i] = strings.Replace(m[i], `"name":"key-`, `"name":"kez-`, 1)
		case 4: // insert a record of another position
			i, j := records[rng.IntN(len(records))], records[rng.IntN(len(records))]
			m = append(m[:j], append([]string{lines[i]}, m[j:]...)...)
		case 5: // cut the file short, not right after a checkpoint
			k := records[0] + 1 + rng.IntN(len(m)-records[0]-2) // keeps a record
			if strings.Contains(m[k-1], `"type":"checkpoint"`) {
				continue
			}
			m = m[:k]
		}
		if verifyLines(t, m) {
			t.Fatalf("edit %d (kind %d) verified:\n%s", iter, kind, strings.Join(m, ""))
		}
	}
}
