package compilelineage

import (
	"fmt"
	"testing"
)

// benchEvents is a Windows host's buffer: n compiles (a third by mshta, a third by
// PowerShell with an encoded command, a third by devenv), each with a cvtres helper, a
// written artifact, its execution and a connection, among 20 unrelated processes per compile.
func benchEvents(n int) *Events {
	ev := &Events{Platform: "windows"}
	parents := []string{mshta, ps, `C:\Program Files\Microsoft Visual Studio\2022\Common7\IDE\devenv.exe`}
	for i := range n {
		base := float64(i * 10)
		par, c, h, x := fmt.Sprintf("{p%d}", i), fmt.Sprintf("{c%d}", i), fmt.Sprintf("{h%d}", i), fmt.Sprintf("{x%d}", i)
		out := fmt.Sprintf(`C:\Users\u\AppData\Local\Temp\a%d.exe`, i)
		ev.Procs = append(ev.Procs,
			win(par, "", base, parents[i%3], parents[i%3]+" -enc SQBFAFgA"),
			win(c, par, base+1, fw+"csc.exe", fmt.Sprintf(`csc.exe /noconfig /out:%s C:\Users\u\AppData\Local\Temp\a%d.cs`, out, i)),
			win(h, c, base+1.5, fw+"cvtres.exe", "cvtres.exe /NOLOGO"),
			win(x, par, base+3, out, out))
		for j := range 20 {
			ev.Procs = append(ev.Procs, win(fmt.Sprintf("{o%d-%d}", i, j), "{svc}", base+float64(j)/4, `C:\Windows\System32\svchost.exe`, "svchost.exe -k netsvcs"))
		}
		ev.Files = append(ev.Files, FileEvent{ProcKey: c, Path: out, Time: at(base + 2), Source: "sysmon"})
		ev.Conns = append(ev.Conns, Conn{ProcKey: x, Remote: "203.0.113.7", Port: 443, Time: at(base + 4), Source: "sysmon"})
	}
	return ev
}

// BenchmarkCorrelate measures the pure core alone: no harness, no osquery.
func BenchmarkCorrelate(b *testing.B) {
	for _, n := range []int{100, 1000} {
		ev := benchEvents(n)
		b.Run(fmt.Sprintf("compiles=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got := Correlate(ev, Params{}); len(got) != n {
					b.Fatalf("%d lineages, want %d", len(got), n)
				}
			}
		})
	}
}

// BenchmarkCorrelateSharedBuilds: n `dotnet build`s, each on its own project folder, served by
// one VBCSCompiler server that writes each build's assembly (write:shared_compiler).
func BenchmarkCorrelateSharedBuilds(b *testing.B) {
	for _, n := range []int{100, 1000} {
		ev := &Events{Platform: "windows", Procs: []Proc{
			win("{s}", "", -60, `C:\Program Files\dotnet\dotnet.exe`, `dotnet.exe exec "C:\Program Files\dotnet\sdk\8.0.100\Roslyn\bincore\VBCSCompiler.dll" "-pipename:x"`)}}
		for i := range n {
			dir := fmt.Sprintf(`C:\src\p%d`, i)
			ev.Procs = append(ev.Procs, withCwd(win(fmt.Sprintf("{b%d}", i), "", float64(i), `C:\Program Files\dotnet\dotnet.exe`, "dotnet build"), dir))
			ev.Files = append(ev.Files, FileEvent{ProcKey: "{s}", Path: dir + `\obj\Debug\net8.0\p.dll`, Time: at(float64(i) + 2), Source: "sysmon"})
		}
		b.Run(fmt.Sprintf("builds=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got := Correlate(ev, Params{})
				if len(got) != n || !got[n-1].Written {
					b.Fatalf("%d lineages, last written %v", len(got), got[n-1].Written)
				}
			}
		})
	}
}
