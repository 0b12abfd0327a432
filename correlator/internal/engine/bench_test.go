package engine

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/policy"
	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
	"github.com/compilelineage/compile-lineage/correlator/internal/roles"
)

const (
	benchLines = 1_000_000
	benchHosts = 10_000
)

var (
	benchOnce sync.Once
	benchData []byte
	benchN    int
)

// syntheticLog builds a 1,000,000-line result log from 10,000 hosts in
// memory: each host sends 100 lines, one in five a compile_lineage row (5
// lineages per host, each reported at its 4 stages) and the rest rows of
// other scheduled queries (process listings), all in osquery's event
// format with Fleet's decorations.
func syntheticLog() ([]byte, int) {
	benchOnce.Do(func() {
		var b bytes.Buffer
		b.Grow(benchLines * 560)
		stages := []string{"compile", "written", "executed", "network"}
		parents := []struct{ path, name, class, reasons string }{
			{`C:\\Windows\\System32\\mshta.exe`, "mshta.exe", "script_host", "parent_elastic_list;temp_output"},
			{`C:\\Program Files\\Microsoft Visual Studio\\2022\\Community\\MSBuild\\Current\\Bin\\MSBuild.exe`, "msbuild.exe", "build_system", ""},
			{`C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE`, "winword.exe", "office", "parent_office;temp_output"},
			{`C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe`, "powershell.exe", "script_host", "parent_encoded_powershell;cmdline_tempfile"},
			{`C:\\Program Files\\dotnet\\dotnet.exe`, "dotnet.exe", "build_system", ""},
		}
		for i := range benchLines {
			h := i % benchHosts
			k := i / benchHosts
			host := fmt.Sprintf("host-%05d", h)
			uuid := fmt.Sprintf("4c4c4544-%04d-4000-8000-%012d", h%10000, h)
			t := 1764000000 + i/100
			if k%5 == 0 {
				j := (k / 5) % 5
				st := (k / 5) / 5
				p := parents[j]
				fmt.Fprintf(&b, `{"name":"pack/Global/compile_lineage","hostIdentifier":"%s","calendarTime":"Tue Nov 25 10:00:00 2025 UTC","unixTime":%d,"epoch":0,"counter":%d,"numerics":false,"decorations":{"host_uuid":"%s","hostname":"%s"},"columns":{"lineage_id":"%08d-0000-5000-8000-%012d","time":"%d","platform":"windows","source":"sysmon","compiler_pid":"%d","compiler_guid":"{%08d-1111-2222-3333-444444444444}","compiler_path":"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe","compiler_name":"csc.exe","compiler_original_name":"csc.exe","compiler_cmdline":"\"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe\" /noconfig /fullpaths @\"C:\\Users\\u%d\\AppData\\Local\\Temp\\x%d.cmdline\"","compiler_user":"CORP\\u%d","parent_pid":"%d","parent_path":"%s","parent_name":"%s","parent_cmdline":"%s","ancestry":"explorer.exe > %s > csc.exe","parent_class":"%s","output_path":"C:\\Users\\u%d\\AppData\\Local\\Temp\\x%d.dll","output_source":"cmdline","artifact_written":"%d","artifact_written_time":"0","artifact_sha256":"","executions":"%d","first_exec_pid":"0","first_exec_time":"0","connections":"%d","first_remote_address":"","first_remote_port":"0","connection_origin":"%s","followup_processes":"","stage":"%s","link_evidence":"","suspicious":"1","reasons":"%s","telemetry_gaps":""},"action":"added"}`+"\n",
					host, t, k+1, uuid, host, h, j, t, 4000+j, h, h, j, h, 3000+j, p.path, p.name, p.name, p.name, p.class, h, j,
					min(st, 1), min(st/2, 1), st/3, map[bool]string{true: "artifact"}[st == 3], stages[st], p.reasons)
			} else {
				fmt.Fprintf(&b, `{"name":"pack/Global/processes","hostIdentifier":"%s","calendarTime":"Tue Nov 25 10:00:00 2025 UTC","unixTime":%d,"epoch":0,"counter":%d,"numerics":false,"decorations":{"host_uuid":"%s","hostname":"%s"},"columns":{"pid":"%d","name":"svchost.exe","path":"C:\\Windows\\System32\\svchost.exe","cmdline":"C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule","parent":"712","uid":"0","start_time":"%d"},"action":"added"}`+"\n",
					host, t, k+1, uuid, host, 1000+k, t)
			}
		}
		benchData = b.Bytes()
		benchN = benchLines
	})
	return benchData, benchN
}

func benchEngine(b *testing.B) *Engine {
	var csv strings.Builder
	csv.WriteString("host,role\n")
	roleNames := []string{"user_endpoint", "developer_workstation", "build_server", "server", "domain_controller"}
	for h := 0; h < benchHosts; h += 3 {
		fmt.Fprintf(&csv, "host-%05d,%s\n", h, roleNames[h%len(roleNames)])
	}
	return engineWithRoles(b, csv.String())
}

// engineWithRoles is an engine on the default policy with the roles of a roles CSV.
func engineWithRoles(b *testing.B, csv string) *Engine {
	b.Helper()
	p, err := policy.Default()
	if err != nil {
		b.Fatal(err)
	}
	var known []string
	for r := range p.Roles {
		known = append(known, r)
	}
	res := roles.New(known, p.DefaultRole, p.MostImportant)
	if err := res.LoadCSV("bench.csv", strings.NewReader(csv)); err != nil {
		b.Fatal(err)
	}
	return &Engine{Policy: p, Roles: res, State: NewState(false), Now: func() time.Time { return time.Unix(1764000000, 0) }}
}

// BenchmarkScoreStream measures the whole batch path: line splitting,
// typed parsing, row recognition, role lookup, scoring, exceptions and
// dedup, over the synthetic log.
func BenchmarkScoreStream(b *testing.B) {
	data, n := syntheticLog()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var alerts, lineages int
	var last *Engine
	base := liveHeap()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for b.Loop() {
		e := benchEngine(b)
		alerts = 0
		rd := NewReader(e, nil, func(*alert.Alert) error { alerts++; return nil })
		if err := rd.ReadAll("bench", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if rd.Stats.Lines != int64(n) || rd.Stats.Malformed != 0 {
			b.Fatalf("lines %d malformed %d", rd.Stats.Lines, rd.Stats.Malformed)
		}
		lineages, _ = e.State.Len()
		last = e
	}
	reportRate(b, n, start, cpu0)
	b.ReportMetric(float64(alerts), "alerts")
	b.ReportMetric(float64(lineages), "lineages")
	// Live memory held after a full pass (the input buffer excluded): the
	// engine state (lineages, pairs, role cache) grows with hosts, not lines.
	held := liveHeap() - base
	runtime.KeepAlive(last)
	b.ReportMetric(float64(held)/(1<<20), "state-MB")
}

// BenchmarkDecodeGenericMap is the baseline: only decoding the same lines
// into map[string]any with encoding/json, without any scoring.
func BenchmarkDecodeGenericMap(b *testing.B) {
	data, n := syntheticLog()
	benchGeneric(b, data, n)
}

// BenchmarkParseOnly measures line splitting and typed parsing alone.
func BenchmarkParseOnly(b *testing.B) {
	data, n := syntheticLog()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	p := resultlog.NewParser()
	for b.Loop() {
		rows := 0
		_, err := resultlog.Split(bytes.NewReader(data), 0, true, 1, 0, func(l resultlog.Line) error {
			c, err := p.Parse(l.Data, func(*resultlog.Row) error { return nil })
			rows += c
			return err
		})
		if err != nil || rows != n {
			b.Fatalf("rows %d err %v", rows, err)
		}
	}
	reportRate(b, n, start, cpu0)
}

// reportRate reports lines per wall-clock second and, where measurable,
// lines per CPU second of the process (the machine may be shared; the
// pipeline is single-threaded, so CPU seconds approximate one core).
func reportRate(b *testing.B, n int, start time.Time, cpu0 time.Duration) {
	el := time.Since(start)
	b.ReportMetric(float64(n)*float64(b.N)/el.Seconds(), "lines/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "lines/cpu-s")
	}
}

func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
