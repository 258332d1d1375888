package client

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/echorelay/echorelay/echo/seal"
)

// MaxNameLen bounds a friend's name in bytes.
const MaxNameLen = 64

// Hidden reports whether r is a control or format character (Unicode Cf) other than the zero
// width joiner: what a name, a message or a file name must not carry to a screen
// unneutralised. The joiner stays, since emoji sequences need it and it reorders nothing.
func Hidden(r rune) bool {
	return unicode.IsControl(r) || (unicode.Is(unicode.Cf, r) && r != '\u200D')
}

// CheckName accepts a friend's name: 1 to MaxNameLen bytes, no spaces, slashes, NUL or
// hidden characters, not "-".
func CheckName(name string) error {
	if name == "" || len(name) > MaxNameLen || strings.ContainsAny(name, " \t\r\n/\\\x00") ||
		strings.ContainsFunc(name, Hidden) || name == "-" || name == "." || name == ".." {
		return fmt.Errorf("%w %q", ErrBadName, name)
	}
	return nil
}

// SafeFileName is a received file's name as it is saved: hidden characters become "_", so
// that "invoice\u202Efdp.exe" cannot pose as a PDF in a file manager. The name has passed
// seal.SafeName (a plain base name) before.
func SafeFileName(name string) string {
	return strings.Map(func(r rune) rune {
		if Hidden(r) {
			return '_'
		}
		return r
	}, name)
}

// nickName turns the nickname a friend suggests into a name CheckName accepts: letters,
// digits, '-', '_' and '.' only, else a name from the short ID.
func nickName(nick string, fp seal.Fingerprint) string {
	base := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.' {
			return r
		}
		return -1
	}, nick)
	if len(base) > MaxNameLen-5 {
		base = base[:MaxNameLen-5]
	}
	if CheckName(base) != nil {
		base = "friend-" + strings.ReplaceAll(seal.ShortID(fp), " ", "")[:5]
	}
	return base
}
