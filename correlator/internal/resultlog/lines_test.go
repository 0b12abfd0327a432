package resultlog

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

type gotLine struct {
	Data    string
	No, End int64
	TooLong bool
	Partial bool
}

func splitAll(t *testing.T, in string, maxLine int, final bool) ([]gotLine, int64) {
	t.Helper()
	var out []gotLine
	off, err := Split(strings.NewReader(in), maxLine, final, 1, 0, func(l Line) error {
		out = append(out, gotLine{string(l.Data), l.No, l.End, l.TooLong, l.Partial})
		return nil
	})
	if err != nil {
		t.Fatalf("Split: %v", err)
	}
	return out, off
}

func TestSplit(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 200<<10) // longer than the 64 KiB read buffer
	tests := []struct {
		name    string
		in      string
		max     int
		final   bool
		want    []gotLine
		wantOff int64
	}{
		{"lines and CRLF", "a\nbb\r\n\nc\n", 100, true, []gotLine{{"a", 1, 2, false, false}, {"bb", 2, 6, false, false}, {"", 3, 7, false, false}, {"c", 4, 9, false, false}}, 9},
		{"final partial processed in batch", "a\nbc", 100, true, []gotLine{{"a", 1, 2, false, false}, {"bc", 2, 4, false, true}}, 4},
		{"final partial left for follow", "a\nbc", 100, false, []gotLine{{"a", 1, 2, false, false}}, 2},
		{"too long short line", "abcdef\nab\n", 3, true, []gotLine{{"", 1, 7, true, false}, {"ab", 2, 10, false, false}}, 10},
		{"huge line beyond buffer", huge + "\nok\n", 1 << 10, true, []gotLine{{"", 1, int64(len(huge)) + 1, true, false}, {"ok", 2, int64(len(huge)) + 4, false, false}}, int64(len(huge)) + 4},
		{"long line within max", huge + "\n", 1 << 20, true, []gotLine{{huge, 1, int64(len(huge)) + 1, false, false}}, int64(len(huge)) + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, off := splitAll(t, tt.in, tt.max, tt.final)
			if !reflect.DeepEqual(got, tt.want) {
				if len(got) == len(tt.want) {
					for i := range got {
						if len(got[i].Data) > 50 {
							got[i].Data = got[i].Data[:50] + "..."
						}
					}
				}
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if off != tt.wantOff {
				t.Errorf("offset = %d, want %d", off, tt.wantOff)
			}
		})
	}
}

func FuzzSplit(f *testing.F) {
	f.Add([]byte("a\nbb\r\n\nc"), 4)
	f.Add([]byte(strings.Repeat("x", 70000)+"\nok\n"), 100)
	f.Add([]byte(""), 1)
	f.Fuzz(func(t *testing.T, data []byte, maxLine int) {
		if maxLine <= 0 || maxLine > 1<<20 {
			maxLine = 1 << 20
		}
		var rebuilt []byte
		var prevEnd, no int64
		end, err := Split(bytes.NewReader(data), maxLine, true, 1, 0, func(l Line) error {
			no++
			if l.No != no {
				t.Fatalf("line number %d, want %d", l.No, no)
			}
			if l.End <= prevEnd || l.End > int64(len(data)) {
				t.Fatalf("line end %d after %d (input %d bytes)", l.End, prevEnd, len(data))
			}
			raw := data[prevEnd:l.End]
			body := bytes.TrimSuffix(raw, []byte("\n"))
			if l.TooLong != (len(body) > maxLine) {
				t.Fatalf("TooLong = %v for a %d-byte line, max %d", l.TooLong, len(body), maxLine)
			}
			if !l.TooLong && !bytes.Equal(l.Data, bytes.TrimSuffix(body, []byte("\r"))) {
				t.Fatalf("line %d = %q, want %q", l.No, l.Data, body)
			}
			rebuilt = append(rebuilt, raw...)
			prevEnd = l.End
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if end != int64(len(data)) || !bytes.Equal(rebuilt, data) {
			t.Fatalf("lines do not cover the input: end %d of %d", end, len(data))
		}
	})
}
