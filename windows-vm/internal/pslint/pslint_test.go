package pslint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each case is a script with one fault and the rule that must report it; the clean lines around it
// must report nothing. The faults are the ones the lab's scripts had (testdata/old-*.ps1.txt are excerpts).
func TestCheck(t *testing.T) {
	t.Parallel()
	h := Header + "\n"
	tests := []struct {
		name, src, rule string
		lib             bool
		line            int
	}{
		{name: "clean", src: h + "Write-Host 'x'\n"},
		{name: "header", src: "Write-Host 'x'\n", rule: "header", line: 1},
		{name: "BOM", src: "\xEF\xBB\xBF" + h, rule: "ascii", line: 1},
		{name: "non-ASCII", src: h + "# caf\xc3\xa9\n", rule: "ascii", line: 2},
		{name: "return comma", src: h + "function F {\n    return , $rows.ToArray()\n}\n", lib: true, rule: "return-comma", line: 3},
		{name: "return value", src: h + "function F {\n    return $p\n}\n", lib: true, rule: "return-value", line: 3},
		{name: "bare return", src: h + "function F {\n    if ($x) { return }\n}\n", lib: true},
		{name: "function outside lib", src: h + "function Get-X { Write-Host 1 }\n", rule: "function", line: 2},
		{name: "ConvertFrom-Json", src: h + "$e = Get-Content x.json -Raw | ConvertFrom-Json\n", rule: "forbidden", line: 2},
		{name: "osqueryi", src: h + "$r = & 'C:\\Program Files\\osquery\\osqueryi.exe' --connect x --json 'SELECT 1'\n", rule: "forbidden", line: 2},
		{name: "native call", src: h + "& icacls.exe $dir /grant Administrators:f\n", rule: "native-call", line: 2},
		{name: "script call", src: h + "& (Join-Path $PSScriptRoot 'Invoke-Scenario.ps1') $n\n"},
		{name: "2>&1", src: h + "$raw = @(cmd /c dir 2>&1)\n", rule: "forbidden", line: 2},
		{name: "redirect without -Wait", src: h + "$p = Start-Process -FilePath msbuild.exe -RedirectStandardOutput $log -PassThru -NoNewWindow\n", rule: "start-process-wait", line: 2},
		{name: "redirect across continuation lines", src: h + "$p = Start-Process -FilePath x.exe `\n    -RedirectStandardOutput $o -RedirectStandardError $e `\n    -Wait -PassThru\nif ($p.ExitCode -ne 0) { throw 'x' }\n"},
		{name: "exit code without wait", src: h + "$p = Start-Process -FilePath x.exe -PassThru\nif ($p.ExitCode -ne 0) { throw 'x' }\n", rule: "exit-code", line: 3},
		{name: "exit code after WaitForExit", src: h + "$p = Start-Process -FilePath x.exe -PassThru\nif (-not $p.WaitForExit(1000)) { throw 't' }\nif ($p.ExitCode -ne 0) { throw 'x' }\n"},
		{name: "download in a scenario", src: h + "Invoke-WebRequest -Uri http://x -OutFile y\n", rule: "download", line: 2},
		{name: "var colon", src: h + "throw \"no files under $root: synced?\"\n", rule: "var-colon", line: 2},
		{name: "var colon braces", src: h + "throw \"no files under ${root}: synced?\"\n"},
		{name: "param after header", src: h + "param([string]$Name)\n", rule: "param", line: 2},
		{name: "extensions.load by Set-Content", src: h + "Set-Content -Path extensions.load -Value $dst\n", rule: "bom", line: 2},
		{name: "here-string body is data", src: h + "$src = @'\nreturn , 1 # ConvertFrom-Json\n'@\n"},
		{name: "self syntax check", src: h + "[void][System.Management.Automation.Language.Parser]::ParseFile($PSCommandPath, [ref]$null, [ref]$e)\n", rule: "forbidden", line: 2},
		{name: "comment", src: h + "# return , $rows would wrap the array\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Check([]byte(tt.src), Options{Library: tt.lib, Offline: !tt.lib})
			if tt.rule == "" {
				if len(got) != 0 {
					t.Fatalf("want no findings, got %v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Rule != tt.rule || got[0].Line != tt.line {
				t.Fatalf("got %v, want one %s at line %d", got, tt.rule, tt.line)
			}
		})
	}
}

// TestOldScripts: excerpts of the scripts that failed in the lab are rejected for what broke them.
func TestOldScripts(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"old-common.ps1.txt":          {"return-comma", "forbidden", "return-value"},
		"old-assert-scenario.ps1.txt": {"return-comma", "forbidden"},
	}
	for file, rules := range want {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		got := Check(data, Options{Library: strings.Contains(file, "common")})
		seen := map[string]bool{}
		for _, f := range got {
			seen[f.Rule] = true
		}
		for _, r := range rules {
			if !seen[r] {
				t.Errorf("%s: rule %s not reported; findings %v", file, r, got)
			}
		}
	}
}
