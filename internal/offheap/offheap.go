// Package offheap holds large arrays of pointer-free values outside the
// Go heap, in anonymous memory mappings.
//
// The gateway keeps one record per API key. At a million keys those
// records are a hundred-odd megabytes that never hold a pointer: on the
// Go heap the collector would still count them towards its goal (GOGC
// 100 lets the heap grow to twice the live data before collecting), so
// the process would need twice their size. Mapped outside the heap they
// cost their own size, the collector neither scans nor counts them, and
// pages never written (the unused end of a grown array) take no memory.
//
// Values must hold no Go pointers (no strings, slices, maps, interfaces or
// pointers): the collector does not see them here, so what they pointed
// to could be freed. Array checks this when it first grows.
package offheap

import (
	"fmt"
	"reflect"
	"unsafe"
)

// Array is a growable array of T outside the Go heap. The zero value is an
// empty array. It is not safe for concurrent use: callers lock.
type Array[T any] struct {
	data []T    // len = Len, cap = what mem holds
	mem  []byte // the mapping; nil when none
}

// Len returns the number of elements.
func (a *Array[T]) Len() int { return len(a.data) }

// At returns a pointer to element i. It is valid until the array next
// grows (Append, Resize) or is freed: callers copy what they keep.
func (a *Array[T]) At(i int) *T { return &a.data[i] }

// Append adds v and returns its index.
func (a *Array[T]) Append(v T) int {
	if len(a.data) == cap(a.data) {
		a.grow(len(a.data) + 1)
	}
	a.data = append(a.data, v)
	return len(a.data) - 1
}

// Resize sets the length to n; new elements are zero.
func (a *Array[T]) Resize(n int) {
	if n > cap(a.data) {
		a.grow(n)
	}
	old := len(a.data)
	a.data = a.data[:n]
	if n > old {
		clear(a.data[old:])
	}
}

// Bytes returns how many bytes are mapped for the array (an upper bound on
// the memory it takes: untouched pages take none).
func (a *Array[T]) Bytes() int { return len(a.mem) }

// Free unmaps the array's memory; the array is then empty.
func (a *Array[T]) Free() {
	if a.mem != nil {
		unmap(a.mem)
	}
	a.data, a.mem = nil, nil
}

// grow maps room for at least n elements (1.5 times the current capacity
// or more), keeping the elements.
func (a *Array[T]) grow(n int) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	c := max(n, cap(a.data)+cap(a.data)/2, 4096/max(size, 1))
	var mem []byte
	if a.mem == nil {
		mustBePointerFree(reflect.TypeFor[T]())
		mem = mapAnon(c * size)
	} else {
		mem = remap(a.mem, c*size)
	}
	a.data = unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(mem))), c)[:len(a.data)]
	a.mem = mem
}

// mustBePointerFree panics when values of t hold pointers the collector
// would have to see: a programming error, caught on first use.
func mustBePointerFree(t reflect.Type) {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
	case reflect.Array:
		mustBePointerFree(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			mustBePointerFree(t.Field(i).Type)
		}
	default:
		panic(fmt.Sprintf("offheap: %v holds pointers and cannot live outside the Go heap", t))
	}
}
