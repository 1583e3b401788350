//go:build !unix

package offheap

// Without mmap the memory comes from the Go heap: correct, only without
// the savings.
func mapAnon(n int) []byte { return make([]byte, n) }

func unmap([]byte) {}

func remap(b []byte, n int) []byte {
	nb := make([]byte, n)
	copy(nb, b)
	return nb
}
