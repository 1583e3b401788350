package offheap

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// mapAnon maps n bytes of zeroed private memory.
func mapAnon(n int) []byte {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		// As the runtime does when the heap cannot grow: there is no
		// sensible way to go on without the memory.
		panic(fmt.Sprintf("offheap: mapping %d bytes: %v", n, err))
	}
	return b
}

func unmap(b []byte) {
	if err := unix.Munmap(b); err != nil {
		panic(fmt.Sprintf("offheap: unmapping: %v", err))
	}
}

// remap grows b's mapping to n bytes. The kernel moves the pages rather
// than copy them: growing an array of a hundred megabytes costs page
// table entries, not a copy of the hundred megabytes.
func remap(b []byte, n int) []byte {
	nb, err := unix.Mremap(b, n, unix.MREMAP_MAYMOVE)
	if err != nil {
		panic(fmt.Sprintf("offheap: remapping %d bytes: %v", n, err))
	}
	return nb
}
