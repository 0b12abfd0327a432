package glob

import "testing"

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"dc-*", "DC-01", true},
		{"dc-*", "web-01", false},
		{`C:\Users\*\AppData\*`, `c:\users\bob\appdata\local\x.exe`, true},
		{`C:\Windows\Temp\*.dll`, `C:\Windows\Temp\a\b.exe`, false},
		{"csc.exe", "CSC.EXE", true},
		{"?sc.exe", "csc.exe", true},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
