package compilelineage

import (
	"slices"
	"testing"
)

func TestSplitWindows(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`csc.exe /out:a.exe b.cs`, []string{"csc.exe", "/out:a.exe", "b.cs"}},
		{`"C:\Program Files\x\csc.exe"  /noconfig @"C:\T\a b.cmdline"`, []string{`C:\Program Files\x\csc.exe`, "/noconfig", `@C:\T\a b.cmdline`}},
		{`a "b\"c" d`, []string{"a", `b"c`, "d"}},
		{`a \\"b c\\" d`, []string{"a", `\b c\`, "d"}},
		{`a b\c`, []string{"a", `b\c`}},
		{`  `, nil},
		{`"/OUT:C:\Windows\TEMP\RES37C9.tmp" x`, []string{`/OUT:C:\Windows\TEMP\RES37C9.tmp`, "x"}},
	}
	for _, tt := range tests {
		if got := SplitWindows(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SplitWindows(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseInvocation(t *testing.T) {
	tests := []struct {
		name, kind, cmdline, cwd string
		output                   string
		sources, rsp             []string
		notCompile               bool
	}{
		{"csc out colon", kindDotNet, `csc.exe /out:C:\Users\Public\a.exe C:\Users\Public\a.cs`, "",
			`C:\Users\Public\a.exe`, []string{`C:\Users\Public\a.cs`}, nil, false},
		{"csc dash out quoted", kindDotNet, `csc.exe -out:"C:\T\b c.exe" x.cs`, `C:\work`,
			`C:\T\b c.exe`, []string{`C:\work\x.cs`}, nil, false},
		{"csc default output library", kindDotNet, `csc.exe /target:library C:\src\Lib.cs`, `C:\src`,
			`C:\src\Lib.dll`, []string{`C:\src\Lib.cs`}, nil, false},
		{"codedom response file", kindDotNet, `"C:\W\csc.exe" /noconfig /fullpaths @"C:\Users\u\AppData\Local\Temp\ab\ab.cmdline"`, "",
			"", []string{`C:\Users\u\AppData\Local\Temp\ab\ab.cmdline`}, []string{`C:\Users\u\AppData\Local\Temp\ab\ab.cmdline`}, false},
		{"ilasm output equals", kindILAsm, `ilasm.exe /exe /output=C:\T\x.exe C:\T\x.il`, "",
			`C:\T\x.exe`, []string{`C:\T\x.il`}, nil, false},
		{"vbc stext is not a compile", kindDotNet, `"C:\W\vbc.exe" /stext "C:\Users\u\AppData\Local\Temp\tmpA185.tmp"`, "",
			"", nil, nil, true},
		{"msbuild project", kindMSBuild, `MSBuild.exe  C:\Windows\Tasks\pshell.xml`, "",
			"", []string{`C:\Windows\Tasks\pshell.xml`}, nil, false},
		{"cvtres output is not an artifact", kindCvtres, `cvtres.exe /NOLOGO "/OUT:C:\Windows\TEMP\RES1.tmp"`, "",
			"", nil, nil, false},
		{"gcc -o relative", kindCC, "gcc -o x /tmp/x.c", "/tmp", "/tmp/x", []string{"/tmp/x.c"}, nil, false},
		{"gcc -ofile", kindCC, "gcc -O2 -o/dev/shm/y y.c", "/home/u", "/dev/shm/y", []string{"/home/u/y.c"}, nil, false},
		{"gcc a.out default", kindCC, "cc hello.c", "/tmp/w", "/tmp/w/a.out", []string{"/tmp/w/hello.c"}, nil, false},
		{"gcc -c has no linked output", kindCC, "gcc -c hello.c", "/src", "", []string{"/src/hello.c"}, nil, false},
		{"go build -o", kindGo, "go build -o /tmp/impl main.go", "/tmp", "/tmp/impl", []string{"/tmp/main.go"}, nil, false},
		{"rustc default", kindRust, "rustc /tmp/r.rs", "/", "/r", []string{"/tmp/r.rs"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := ParseInvocation(tt.kind, tt.cmdline, tt.cwd)
			if inv.Output != tt.output {
				t.Errorf("output = %q, want %q", inv.Output, tt.output)
			}
			if !slices.Equal(inv.Sources, tt.sources) {
				t.Errorf("sources = %q, want %q", inv.Sources, tt.sources)
			}
			if !slices.Equal(inv.ResponseFiles, tt.rsp) {
				t.Errorf("response files = %q, want %q", inv.ResponseFiles, tt.rsp)
			}
			if inv.NotCompile != tt.notCompile {
				t.Errorf("not compile = %v, want %v", inv.NotCompile, tt.notCompile)
			}
		})
	}
}

func TestParseResponseFile(t *testing.T) {
	data := []byte("/t:library /utf8output /out:\"C:\\Users\\u\\AppData\\Local\\Temp\\ab\\ab.dll\" /debug- /optimize+  \"C:\\Users\\u\\AppData\\Local\\Temp\\ab\\ab.0.cs\"\r\n")
	inv := ParseResponseFile(kindDotNet, data, "")
	if inv.Output != `C:\Users\u\AppData\Local\Temp\ab\ab.dll` {
		t.Fatalf("output = %q", inv.Output)
	}
	if !slices.Equal(inv.Sources, []string{`C:\Users\u\AppData\Local\Temp\ab\ab.0.cs`}) {
		t.Fatalf("sources = %q", inv.Sources)
	}
}

func TestCompilerKind(t *testing.T) {
	tests := []struct{ name, orig, cmdline, want string }{
		{"csc.exe", "", "", kindDotNet},
		{"CSC.EXE", "", "", kindDotNet},
		{"svch0st.exe", "csc.exe", "", kindDotNet}, // renamed, recognised by its PE name
		{"MSBuild.exe", "", "", kindMSBuild},
		{"cvtres.exe", "", "", kindCvtres},
		{"Microsoft.Workflow.Compiler.exe", "", "", kindASPNet},
		{"gcc", "", "", kindCC},
		{"x86_64-linux-gnu-gcc-12", "", "", kindCC},
		{"clang-16", "", "", kindCC},
		{"g++", "", "", kindCC},
		{"tcc", "", "", kindCC},
		{"go", "", "go build ./...", kindGo},
		{"go", "", "go list -json ./...", kindNone},
		{"go", "", "go -C dir run .", kindGo},
		{"rustc", "", "", kindRust},
		{"ld", "", "", kindLinker},
		{"cc1", "", "", kindHelper},
		{"collect2", "", "", kindHelper},
		{"bash", "", "", kindNone},
		{"gccgo-tool-wrapper-x", "", "", kindNone},
	}
	for _, tt := range tests {
		if got := compilerKind(tt.name, tt.orig, tt.cmdline); got != tt.want {
			t.Errorf("compilerKind(%q, %q, %q) = %q, want %q", tt.name, tt.orig, tt.cmdline, got, tt.want)
		}
	}
}

func TestSamePath(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`C:\Users\Public\a.exe`, `c:\users\public\A.EXE`, true},
		{`\??\C:\Windows\system32\conhost.exe`, `C:\Windows\System32\conhost.exe`, true},
		{`C:\Users\ADMINI~1\AppData\Local\Temp\x.exe`, `C:\Users\administrator\AppData\Local\Temp\x.exe`, true},
		{`C:\Users\ADMIN_~1\AppData\Local\Temp\x.exe`, `C:\Users\admin.bob\AppData\Local\Temp\x.exe`, true},
		{`C:\PROGRA~1\x\y.exe`, `C:\Program Files\x\y.exe`, true},
		{`\Device\HarddiskVolume2\Windows\Temp\a.exe`, `C:\Windows\Temp\a.exe`, true},
		{`C:/Windows/Temp/a.exe`, `C:\Windows\Temp\a.exe`, true},
		{`C:\Users\ADMIN_~1\x.exe`, `C:\Users\bob\x.exe`, false},
		{`/tmp/a`, `/tmp/A`, false},
		{`/tmp/a`, `/tmp/a`, true},
		{``, ``, false},
	}
	for _, tt := range tests {
		if got := SamePath(tt.a, tt.b); got != tt.want {
			t.Errorf("SamePath(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestUserWritable(t *testing.T) {
	tests := []struct {
		p    string
		want bool
	}{
		{`C:\Users\u\AppData\Local\Temp\ab\ab.dll`, true},
		{`C:\Windows\Temp\x.exe`, true},
		{`C:\Windows\SystemTemp\x.exe`, true},
		{`C:\Users\Public\x.exe`, true},
		{`C:\ProgramData\x.exe`, true},
		{`C:\ProgramData\Microsoft\Windows\x.exe`, false},
		{`C:\Windows\Tasks\pshell.xml`, true},
		{`C:\src\app\obj\Debug\app.dll`, false},
		{`/tmp/x`, true},
		{`/dev/shm/x`, true},
		{`/tmp/go-build123/b001/exe/main`, true}, // scratch rules decide, by ancestry
		{`/var/folders/x7/k2l_9b0s1qz4/T/x`, true},
		{`/var/folders/x7/k2l_9b0s1qz4/C/x`, false},
		{`/home/u/src/a.out`, false},
	}
	for _, tt := range tests {
		if got := UserWritable(tt.p); got != tt.want {
			t.Errorf("UserWritable(%q) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func FuzzSplitWindows(f *testing.F) {
	for _, s := range []string{`csc.exe /out:"a b.exe" x.cs`, `a \\"b`, `"unterminated`, `\\\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := SplitWindows(s)
		for _, a := range args {
			if len(a) > len(s) {
				t.Fatalf("argument %q longer than the command line %q", a, s)
			}
		}
		_ = ParseInvocation(kindDotNet, s, `C:\w`)
		_ = ParseInvocation(kindILAsm, s, "")
	})
}

func FuzzParseInvocationPOSIX(f *testing.F) {
	for _, s := range []string{"gcc -o /tmp/x x.c", "go build -o", "cc '-o", "rustc @args"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []string{kindCC, kindGo, kindRust, kindLinker} {
			inv := ParseInvocation(k, s, "/w")
			if inv.Output != "" && inv.Output[0] != '/' {
				t.Fatalf("output %q not joined with the working directory", inv.Output)
			}
		}
	})
}
