package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/batch"
)

// The two shapes of 200,000 result-log lines from 10,000 hosts:
//
//   - fleet mix: 80% routine build rows (Visual Studio, MSBuild, dotnet on
//     developer workstations and build servers, each a new lineage), 15%
//     re-reports of a row already seen (osquery's differential results
//     repeating a lineage unchanged), 5% attack chains (mshta, Office,
//     PowerShell > csc on user endpoints and servers, each chain reported
//     at compile, written, executed and network);
//   - alert storm: every line a new attack lineage.
const (
	shapeLines = 200_000
	shapeHosts = 10_000
)

var (
	shapeOnce            sync.Once
	fleetMix, alertStorm []byte
)

type benchParent struct{ path, name, class, reasons string }

var (
	routineParents = []benchParent{
		{`C:\\Program Files\\Microsoft Visual Studio\\2022\\Community\\Common7\\IDE\\devenv.exe`, "devenv.exe", "dev_tool", ""},
		{`C:\\Program Files\\Microsoft Visual Studio\\2022\\Community\\MSBuild\\Current\\Bin\\MSBuild.exe`, "msbuild.exe", "build_system", ""},
		{`C:\\Program Files\\dotnet\\dotnet.exe`, "dotnet.exe", "build_system", "cmdline_tempfile"},
	}
	attackParents = []benchParent{
		{`C:\\Windows\\System32\\mshta.exe`, "mshta.exe", "script_host", "parent_elastic_list;temp_output"},
		{`C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE`, "winword.exe", "office", "parent_office;temp_output"},
		{`C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe`, "powershell.exe", "script_host", "parent_encoded_powershell;cmdline_tempfile;temp_source"},
	}
	benchStages = []string{"compile", "written", "executed", "network"}
)

// shapeLine writes one compile_lineage result line of the size osquery
// writes for the table (about 1.4 KB).
func shapeLine(b *bytes.Buffer, host, lineage, counter int, p benchParent, stage int, t int64) {
	h := fmt.Sprintf("host-%05d", host)
	st := benchStages[stage]
	origin := ""
	if stage == 3 {
		origin = "artifact"
	}
	fmt.Fprintf(b, `{"name":"pack/Global/compile_lineage","hostIdentifier":"%s","calendarTime":"Tue Nov 25 10:00:00 2025 UTC","unixTime":%d,"epoch":0,"counter":%d,"numerics":false,"decorations":{"host_uuid":"4c4c4544-%04d-4000-8000-%012d","hostname":"%s"},"columns":{"lineage_id":"%08d-0000-5000-8000-%012d","time":"%d","platform":"windows","source":"sysmon","compiler_pid":"%d","compiler_guid":"{%08d-1111-2222-3333-444444444444}","compiler_path":"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe","compiler_name":"csc.exe","compiler_original_name":"csc.exe","compiler_cmdline":"\"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe\" /noconfig /fullpaths @\"C:\\Users\\u%d\\AppData\\Local\\Temp\\x%d.cmdline\"","compiler_user":"CORP\\u%d","parent_pid":"%d","parent_path":"%s","parent_name":"%s","parent_cmdline":"\"%s\" build","ancestry":"explorer.exe > %s > csc.exe","parent_class":"%s","output_path":"C:\\Users\\u%d\\source\\repos\\app\\obj\\x%d.dll","output_source":"cmdline","artifact_written":"%d","artifact_written_time":"0","artifact_sha256":"","executions":"%d","first_exec_pid":"0","first_exec_time":"0","connections":"%d","first_remote_address":"203.0.113.%d","first_remote_port":"443","connection_origin":"%s","followup_processes":"","stage":"%s","link_evidence":"write:process_guid","suspicious":"0","reasons":"%s","telemetry_gaps":""},"action":"added"}`+"\n",
		h, t, counter, host%10000, host, h, host, lineage, t, 4000+lineage%1000, lineage, host, lineage, host, 3000+host%1000, p.path, p.name, p.name, p.name, p.class, host, lineage,
		min(stage, 1), min(stage/2, 1), stage/3, lineage%250, origin, st, p.reasons)
}

// shapes builds both shapes once.
func shapes() (fleet, storm []byte) {
	shapeOnce.Do(func() {
		var b bytes.Buffer
		b.Grow(shapeLines * 1500)
		type seen struct{ host, lineage, stage int }
		var routine []seen
		attack := 0
		t := int64(1764000000)
		for i := range shapeLines {
			t = 1764000000 + int64(i/20)
			switch r := i % 20; {
			case r < 16: // routine build on a developer workstation or build server
				host := (i * 7919) % 8000
				shapeLine(&b, host, i, i+1, routineParents[i%len(routineParents)], (i/20)%3, t)
				routine = append(routine, seen{host, i, (i / 20) % 3})
			case r < 19: // re-report of a routine row, unchanged
				s := routine[(i*31)%len(routine)]
				shapeLine(&b, s.host, s.lineage, i+1, routineParents[s.lineage%len(routineParents)], s.stage, t)
			default: // an attack chain advancing one stage per report
				chain, stage := attack/4, attack%4
				attack++
				host := 8000 + chain%2000
				shapeLine(&b, host, 10_000_000+chain, i+1, attackParents[chain%len(attackParents)], stage, t)
			}
		}
		fleetMix = bytes.Clone(b.Bytes())
		b.Reset()
		for i := range shapeLines {
			host := (i * 7919) % shapeHosts
			shapeLine(&b, host, 20_000_000+i, i+1, attackParents[i%len(attackParents)], i%4, 1764000000+int64(i/20))
		}
		alertStorm = bytes.Clone(b.Bytes())
	})
	return fleetMix, alertStorm
}

// shapeEngine gives hosts 0-4999 the developer workstation role, 5000-7999
// build server, 8000-9499 user endpoint and 9500-9999 server.
func shapeEngine(b *testing.B) *Engine {
	var csv strings.Builder
	csv.WriteString("host,role\n")
	for h := range shapeHosts {
		role := "server"
		switch {
		case h < 5000:
			role = "developer_workstation"
		case h < 8000:
			role = "build_server"
		case h < 9500:
			role = "user_endpoint"
		}
		fmt.Fprintf(&csv, "host-%05d,%s\n", h, role)
	}
	return engineWithRoles(b, csv.String())
}

// benchScore runs the batch score path over data as `correlator score`
// runs it by default: every line parsed, recognised, scored and
// deduplicated, the highest evaluation per lineage kept (encoded into the
// spool file), and the kept alerts written sorted at the end (to
// io.Discard).
func benchScore(b *testing.B, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var alerts, lineages, kept, printed int
	var last *Engine
	var lastSet *batch.Set
	dir := b.TempDir()
	base := liveHeap()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for b.Loop() {
		if lastSet != nil {
			if err := lastSet.Close(); err != nil {
				b.Fatal(err)
			}
			last, lastSet = nil, nil
		}
		e := shapeEngine(b)
		e.ReuseAlert = true
		set, err := batch.New(batch.Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		alerts = 0
		rd := NewReader(e, nil, func(a *alert.Alert) error {
			if a.Raised() {
				alerts++
			}
			return set.Add(a)
		})
		if err := rd.ReadAll("bench", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if rd.Stats.Lines != shapeLines || rd.Stats.Malformed != 0 {
			b.Fatalf("lines %d malformed %d", rd.Stats.Lines, rd.Stats.Malformed)
		}
		printed = 0
		w := bufio.NewWriterSize(io.Discard, 1<<16)
		if err := set.Each(func(e *batch.Entry) bool { return !e.BelowThreshold && !e.Suppressed }, func(_ *batch.Entry, doc, _ []byte) error {
			printed++
			if _, err := w.Write(doc); err != nil {
				return err
			}
			return w.WriteByte('\n')
		}); err != nil {
			b.Fatal(err)
		}
		lineages, _ = e.State.Len()
		kept = set.Len()
		last, lastSet = e, set
	}
	reportRate(b, shapeLines, start, cpu0)
	b.ReportMetric(float64(alerts), "alerts")
	b.ReportMetric(float64(printed), "printed")
	b.ReportMetric(float64(lineages), "lineages")
	// Live memory after a pass with the engine and the kept set still open
	// (the input excluded): it follows lineages kept, not lines or alerts.
	held := liveHeap() - base
	runtime.KeepAlive(last)
	b.ReportMetric(float64(held)/(1<<20), "held-MB")
	b.ReportMetric(float64(held)/float64(lineages+kept), "B/lineage")
	if err := lastSet.Close(); err != nil {
		b.Fatal(err)
	}
}

// benchGeneric is the baseline: decoding the same lines into
// map[string]any with encoding/json, nothing else.
func benchGeneric(b *testing.B, data []byte, lines int) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for b.Loop() {
		rest := data
		n := 0
		for len(rest) > 0 {
			i := bytes.IndexByte(rest, '\n')
			var m map[string]any
			if err := json.Unmarshal(rest[:i], &m); err != nil {
				b.Fatal(err)
			}
			rest = rest[i+1:]
			n++
		}
		if n != lines {
			b.Fatalf("decoded %d lines, want %d", n, lines)
		}
	}
	reportRate(b, lines, start, cpu0)
}

func BenchmarkFleetMix(b *testing.B) {
	fleet, _ := shapes()
	b.Run("score", func(b *testing.B) { benchScore(b, fleet) })
	b.Run("generic", func(b *testing.B) { benchGeneric(b, fleet, shapeLines) })
}

func BenchmarkAlertStorm(b *testing.B) {
	_, storm := shapes()
	b.Run("score", func(b *testing.B) { benchScore(b, storm) })
	b.Run("generic", func(b *testing.B) { benchGeneric(b, storm, shapeLines) })
}
