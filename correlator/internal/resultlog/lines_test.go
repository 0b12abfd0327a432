package resultlog

import (
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
