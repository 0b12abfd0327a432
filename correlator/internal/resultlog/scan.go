package resultlog

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of values the scanner will skip.
const maxDepth = 64

var (
	errEnd     = errors.New("unexpected end of line")
	errSyntax  = errors.New("invalid JSON")
	errDepth   = errors.New("JSON nested too deep")
	errTrailer = errors.New("data after the JSON object")
)

// scanner is a small, allocation-free JSON tokenizer over one line. It
// validates every byte it passes, including the values it skips.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *scanner) expect(c byte) error {
	s.ws()
	if s.i >= len(s.b) {
		return errEnd
	}
	if s.b[s.i] != c {
		return syntaxAt(s.i, "expected "+strconv.QuoteRune(rune(c)))
	}
	s.i++
	return nil
}

type posError struct {
	off int
	msg string
}

func (e *posError) Error() string { return e.msg + " at byte " + strconv.Itoa(e.off) }
func (e *posError) Unwrap() error { return errSyntax }

func syntaxAt(off int, msg string) error { return &posError{off: off, msg: msg} }

// str reads a JSON string. It returns the raw bytes between the quotes and
// whether they contain escapes (then unescape must be used).
func (s *scanner) str() ([]byte, bool, error) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, false, errEnd
	}
	if s.b[s.i] != '"' {
		return nil, false, syntaxAt(s.i, "expected string")
	}
	s.i++
	start := s.i
	esc := false
	for s.i < len(s.b) {
		// Skip plain bytes fast, eight at a time while no byte of the word
		// is special, then one at a time to the quote, backslash or
		// control byte.
		for s.i+8 <= len(s.b) && !specialInWord(binary.LittleEndian.Uint64(s.b[s.i:])) {
			s.i += 8
		}
		for s.i < len(s.b) && !strSpecial[s.b[s.i]] {
			s.i++
		}
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			return raw, esc, nil
		case c == '\\':
			esc = true
			if s.i+1 >= len(s.b) {
				return nil, false, errEnd
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return nil, false, errEnd
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !isHex(h) {
						return nil, false, syntaxAt(s.i, "bad \\u escape")
					}
				}
				s.i += 6
			default:
				return nil, false, syntaxAt(s.i, "bad escape")
			}
		case c < 0x20:
			return nil, false, syntaxAt(s.i, "control character in string")
		default:
			s.i++
		}
	}
	return nil, false, errEnd
}

// strSpecial marks the bytes that end a run of plain string bytes.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// specialInWord reports whether any of the eight bytes of w is a quote, a
// backslash or a control byte (below 0x20): the classic tests for a zero
// byte and for a byte below n, which are exact about whether one exists.
func specialInWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	return (w-0x20*ones)&^w&highs|zero(w^('"'*ones))|zero(w^('\\'*ones)) != 0
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// num reads a JSON number and returns its text.
func (s *scanner) num() ([]byte, error) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return nil, errEnd
	}
	switch c := s.b[s.i]; {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
	default:
		return nil, syntaxAt(s.i, "bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return nil, syntaxAt(s.i, "bad number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return nil, syntaxAt(s.i, "bad number")
		}
	}
	return s.b[start:s.i], nil
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func (s *scanner) lit(word string) error {
	if len(s.b)-s.i < len(word) {
		return errEnd
	}
	if string(s.b[s.i:s.i+len(word)]) != word {
		return syntaxAt(s.i, "bad literal")
	}
	s.i += len(word)
	return nil
}

// skip validates and passes over any JSON value.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	switch s.peek() {
	case 0:
		return errEnd
	case '"':
		_, _, err := s.str()
		return err
	case '{':
		s.i++
		if s.peek() == '}' {
			s.i++
			return nil
		}
		for {
			if _, _, err := s.str(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			more, err := s.next('}')
			if err != nil || !more {
				return err
			}
		}
	case '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			more, err := s.next(']')
			if err != nil || !more {
				return err
			}
		}
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	default:
		_, err := s.num()
		return err
	}
}

// next consumes a ',' (returns true) or the closing byte (returns false).
func (s *scanner) next(closing byte) (bool, error) {
	switch s.peek() {
	case ',':
		s.i++
		return true, nil
	case closing:
		s.i++
		return false, nil
	case 0:
		return false, errEnd
	default:
		return false, syntaxAt(s.i, "expected ',' or "+strconv.QuoteRune(rune(closing)))
	}
}

// unescape decodes the body of a JSON string that contains escapes. Invalid
// surrogates become U+FFFD, as encoding/json does.
func unescape(raw []byte) string {
	return string(appendUnescaped(make([]byte, 0, len(raw)), raw))
}

// appendUnescaped appends the decoded body of a JSON string to out.
func appendUnescaped(out, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			out = append(out, raw[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(raw[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2 := hex4(raw[i+2 : i+6])
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		}
		i += 2
	}
	return out
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}
