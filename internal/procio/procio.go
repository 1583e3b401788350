// Package procio reads what this process has had written to storage, for
// benchmarks that report disk bytes per unit of work.
package procio

import (
	"os"
	"strconv"
	"strings"
)

// WriteBytes is write_bytes of /proc/self/io: the bytes this process has
// caused to be sent to the storage layer (the kernel counts them as pages
// are dirtied, before writeback), or -1 where there is no such file.
func WriteBytes() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}
