//go:build race

package keyvalue_test

// raceEnabled lets allocation tests skip under -race, where sync.Pool drops
// items on purpose and so allocates.
const raceEnabled = true
