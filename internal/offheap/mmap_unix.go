//go:build unix && !linux

package offheap

import (
	"fmt"
	"syscall"
)

// mapAnon maps n bytes of zeroed private memory.
func mapAnon(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		// As the runtime does when the heap cannot grow: there is no
		// sensible way to go on without the memory.
		panic(fmt.Sprintf("offheap: mapping %d bytes: %v", n, err))
	}
	return b
}

func unmap(b []byte) {
	if err := syscall.Munmap(b); err != nil {
		panic(fmt.Sprintf("offheap: unmapping: %v", err))
	}
}

// remap moves b into a mapping of n bytes.
func remap(b []byte, n int) []byte {
	nb := mapAnon(n)
	copy(nb, b)
	unmap(b)
	return nb
}
