package exceptions

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

const sample = `exceptions:
  - id: ansible
    owner: platform@example.com
    reason: Ansible Add-Type
    ticket: SEC-1
    expires: 2027-03-31
    scope:
      roles: [admin_workstation, server]
      parents: [powershell.exe]
      paths: ['C:\Windows\Temp\*']
  - id: old
    owner: fin@example.com
    reason: legacy
    expires: 2026-01-31T12:00:00Z
    scope:
      hosts: ["srv-report-*"]
`

func TestParseAndMatch(t *testing.T) {
	t.Parallel()
	set, err := Parse("exc.yaml", strings.NewReader(sample))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(set.List) != 2 || set.List[0].Source != "exc.yaml:2" || set.List[1].Source != "exc.yaml:11" {
		t.Fatalf("list = %+v", set.List)
	}
	if got := set.List[0].ExpiresAt(); !got.Equal(time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date expiry = %v, want the end of 2027-03-31", got)
	}
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name             string
		sub              Subject
		applied, expired string
	}{
		{"ansible on server", Subject{Roles: []string{"server"}, ParentName: "powershell.exe", OutputPath: `C:\WINDOWS\Temp\x.dll`}, "ansible", ""},
		{"wrong role", Subject{Roles: []string{"user_endpoint"}, ParentName: "powershell.exe", OutputPath: `C:\Windows\Temp\x.dll`}, "", ""},
		{"wrong path", Subject{Roles: []string{"server"}, ParentName: "powershell.exe", OutputPath: `C:\Users\Public\x.exe`}, "", ""},
		{"expired host exception", Subject{HostIDs: []string{"", "SRV-REPORT-2"}}, "", "old"},
	}
	for _, tt := range tests {
		res := set.Match(tt.sub, now)
		var a, e string
		if res.Applied != nil {
			a = res.Applied.ID
		}
		if res.Expired != nil {
			e = res.Expired.ID
		}
		if a != tt.applied || e != tt.expired {
			t.Errorf("%s: applied %q expired %q, want %q %q", tt.name, a, e, tt.applied, tt.expired)
		}
	}
	if exp := set.ExpiredAt(now); len(exp) != 1 || exp[0].ID != "old" {
		t.Errorf("ExpiredAt = %v", exp)
	}
	// Before its expiry the old exception applies.
	if res := set.Match(Subject{HostIDs: []string{"srv-report-2"}}, time.Date(2026, 1, 31, 11, 0, 0, 0, time.UTC)); res.Applied == nil || res.Applied.ID != "old" {
		t.Errorf("old exception not applied before expiry: %+v", res)
	}
	var nilSet *Set
	if res := nilSet.Match(Subject{}, now); res.Applied != nil || res.Expired != nil {
		t.Error("nil set matched")
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	head := "exceptions:\n  - id: a\n    owner: o\n    reason: r\n"
	tests := []struct{ name, body, want string }{
		{"no expiry", head + "    scope: {hosts: [x]}\n", "e.yaml:2: exception \"a\": expires is required"},
		{"bad expiry", head + "    expires: tomorrow\n    scope: {hosts: [x]}\n", "e.yaml:2: exception \"a\": expires \"tomorrow\": want YYYY-MM-DD or RFC 3339"},
		{"empty scope", head + "    expires: 2027-01-01\n", "e.yaml:2: exception \"a\": scope must name at least one"},
		{"no owner", "exceptions:\n  - id: a\n    reason: r\n    expires: 2027-01-01\n    scope: {hosts: [x]}\n", "e.yaml:2: exception \"a\": owner is required"},
		{"duplicate", head + "    expires: 2027-01-01\n    scope: {hosts: [x]}\n" + strings.Replace(head, "exceptions:\n", "", 1) + "    expires: 2027-01-01\n    scope: {hosts: [x]}\n", "e.yaml:7: exception \"a\": duplicate id (first at e.yaml:2)"},
		{"unknown key", head + "    expire: 2027-01-01\n", "e.yaml: yaml: unmarshal errors:\n  line 5: field expire not found"},
	}
	for _, tt := range tests {
		_, err := Parse("e.yaml", strings.NewReader(tt.body))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("exceptions: []\n"))
	f.Add([]byte("exceptions:\n  - {id: a, owner: o, reason: r, expires: 2027-01-01, scope: {compilers: ['*']}}\n"))
	f.Add([]byte("- x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Parse("f.yaml", bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") && !strings.HasPrefix(err.Error(), "read f.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, e := range set.List {
			if e.ID == "" || e.Owner == "" || e.Reason == "" || e.ExpiresAt().IsZero() || e.Scope.empty() {
				t.Fatalf("accepted an incomplete exception: %+v", e)
			}
		}
		_ = set.Match(Subject{HostIDs: []string{"h"}, CompilerName: "csc.exe"}, time.Now())
	})
}
