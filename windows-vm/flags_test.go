package windowsvm

import (
	"strings"
	"testing"
)

func TestParseFlagFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []flagSetting
		wantErr string
	}{
		{name: "values and bare flags", in: "# comment\n\n--a=1\n--b\n  --c=x=y  \n",
			want: []flagSetting{{"a", "1", 3}, {"b", "", 4}, {"c", "x=y", 5}}},
		{name: "path with spaces", in: `--config_path=C:\Program Files\osquery\osquery.conf`,
			want: []flagSetting{{"config_path", `C:\Program Files\osquery\osquery.conf`, 1}}},
		{name: "single dash", in: "--a=1\n-b=2\n", wantErr: `f:2: "-b=2" does not start with --`},
		{name: "empty name", in: "--=1\n", wantErr: "f:1: bad flag name"},
		{name: "quoted name", in: "--\"a\"=1\n", wantErr: "f:1: bad flag name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseFlagFile("f", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("flag %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func FuzzParseFlagFile(f *testing.F) {
	f.Add([]byte("--a=1\n--b\n# c\n"))
	f.Add([]byte("--windows_event_channels=System,Microsoft-Windows-Sysmon/Operational\n"))
	f.Add([]byte("-x\n"))
	f.Add([]byte("--=\n\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		flags, err := parseFlagFile("fuzz", data)
		if err != nil {
			return
		}
		for _, fl := range flags {
			if fl.Name == "" || fl.Line < 1 || strings.ContainsAny(fl.Name, " \t\"'") {
				t.Fatalf("bad flag %+v from %q", fl, data)
			}
		}
	})
}
