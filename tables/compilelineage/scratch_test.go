package compilelineage

import (
	"slices"
	"strings"
	"testing"
)

func TestBuildScratch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		want bool
	}{
		{`C:\Users\vagrant\AppData\Local\Temp\.NETFramework,Version=v4.0.AssemblyAttributes.cs`, true},
		{`"C:\Windows\TEMP\.NETFramework,Version=v4.8.AssemblyAttributes.cs"`, true},
		{`C:\Users\u\AppData\Local\Temp\.NETFramework,Version=v4.7.2.AssemblyAttributes.vb`, true},
		{`C:\Users\u\AppData\Local\Temp\AssemblyAttributes.cs`, false},
		{`C:\Users\u\AppData\Local\Temp\.NETFramework,Version=v4.0.AssemblyAttributes.cs.exe`, false},
		{`C:\Users\u\AppData\Local\Temp\payload.cs`, false},
		{`/tmp/.NETFramework,Version=v4.0.AssemblyAttributes.cs`, true},
		{``, false},
	}
	for _, tt := range tests {
		if got := BuildScratch(tt.path); got != tt.want {
			t.Errorf("BuildScratch(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// TestAssemblyAttributesIsNotTempSource: MSBuild on .NET Framework 4.x passes the
// TargetFrameworkMoniker attribute file it generates under %TEMP% to csc on every build (C:\Windows\TEMP
// for a SYSTEM build agent); that file alone must not make a build temp_source, while a delivered
// source next to it still does.
func TestAssemblyAttributesIsNotTempSource(t *testing.T) {
	t.Parallel()
	msbuild := fw + "MSBuild.exe"
	tests := []struct {
		name, tempDir, extra string
		wantTempSource       bool
	}{
		{name: "developer", tempDir: `C:\Users\dev\AppData\Local\Temp`},
		{name: "SYSTEM build agent", tempDir: `C:\Windows\TEMP`},
		{name: "delivered source next to it", tempDir: `C:\Users\dev\AppData\Local\Temp`,
			extra: ` C:\Users\dev\AppData\Local\Temp\x.cs`, wantTempSource: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			attrs := `"` + tt.tempDir + `\.NETFramework,Version=v4.0.AssemblyAttributes.cs"`
			csc := fw + `Csc.exe /noconfig /nowarn:1701,1702 /nostdlib+ /errorreport:prompt /warn:4 /define:TRACE ` +
				`/reference:` + fw + `mscorlib.dll /debug:pdbonly /filealign:512 /optimize+ /out:obj\Release\agent.dll ` +
				`/subsystemversion:6.00 /target:library /utf8output Program.cs ` + attrs + tt.extra
			c := win("{c}", "{m}", 2, fw+"Csc.exe", csc)
			c.Cwd = `C:\src\agent\`
			ev := Events{Platform: "windows", Procs: []Proc{
				win("{s}", "", 0, `C:\Windows\System32\svchost.exe`, `svchost.exe -k netsvcs -p -s Schedule`),
				win("{m}", "{s}", 1, msbuild, msbuild+` C:\src\agent\agent.csproj /p:Configuration=Release`),
				c,
			}}
			got := Correlate(&ev, Params{})
			var cscRow *Lineage
			for i := range got {
				if strings.EqualFold(BaseName(got[i].Compiler.Path), "csc.exe") {
					cscRow = &got[i]
				}
			}
			if cscRow == nil {
				t.Fatalf("no csc row in %+v", got)
			}
			if has := slices.Contains(cscRow.Reasons, "temp_source"); has != tt.wantTempSource {
				t.Errorf("temp_source = %v, want %v (reasons %v)", has, tt.wantTempSource, cscRow.Reasons)
			}
		})
	}
}
