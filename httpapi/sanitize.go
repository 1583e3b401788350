package httpapi

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFieldLen bounds client-controlled strings in logs and in the Caller.
const maxFieldLen = 256

// sanitize makes a client-controlled string safe for a log line: control
// characters (CR, LF, tab, C1, DEL), Unicode line and paragraph separators
// and invalid UTF-8 are removed, and the result is cut to maxFieldLen bytes
// on a rune boundary. Log handlers escape on their own; this holds whatever
// handler the operator plugs in.
func sanitize(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean && len(s) <= maxFieldLen {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafeRune(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > maxFieldLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' ||
		unicode.Is(unicode.Bidi_Control, r)
}
