package packs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/extension/replay"
)

// Synthetic buffer sizes: what osquery could hold for one events_expiry window on a busy host.
const (
	benchProcs   = 100_000
	benchFiles   = 200_000
	benchSockets = 50_000
	benchSpan    = 3000 // seconds the events are spread over (below events_expiry)
	// compilerEvery makes 0.5% of the process starts compilers.
	compilerEvery = 200
	// budgetScans is the cost budget of one query, in full reads of the whole buffer: a query that reads
	// the buffer a few times is fine; one that joins it with itself without an index (the kind that keeps
	// osquery's worker over its watchdog CPU limit) costs thousands of reads.
	budgetScans = 10
)

// eventTables are the event tables of the synthetic buffer on each platform.
var eventTables = map[string][]string{
	"linux":   {"process_events", "file_events", "socket_events"},
	"windows": {"process_etw_events", "windows_events"},
}

// syntheticLinux builds process_events, file_events and socket_events rows. Every 200th start is a
// compiler: most are builds under make in a home directory, every 10th runs from /tmp under php-fpm.
func syntheticLinux() map[string][]map[string]string {
	procs := make([]map[string]string, 0, benchProcs)
	tools := []string{"/usr/bin/ls", "/usr/bin/cat", "/usr/bin/grep", "/usr/bin/python3", "/usr/bin/bash", "/usr/bin/make"}
	for i := range benchProcs {
		pid := 10_000 + i
		parent := 10_000 + max(0, i-1-i%40)
		path, cmd, cwd, uid := tools[i%len(tools)], "", "/home/dev/src", "1000"
		cmd = path + " arg" + strconv.Itoa(i)
		if i%compilerEvery == 0 {
			path, cmd = "/usr/bin/x86_64-linux-gnu-gcc-12", "gcc -O2 -c f"+strconv.Itoa(i)+".c -o f.o"
			if i%(compilerEvery*10) == 0 {
				cwd, uid, cmd, parent = "/tmp", "33", "gcc -o /tmp/.x"+strconv.Itoa(i)+" x.c", 510
			}
		}
		t := strconv.Itoa(t0 + i*benchSpan/benchProcs)
		procs = append(procs, map[string]string{"pid": strconv.Itoa(pid), "parent": strconv.Itoa(parent),
			"path": path, "cmdline": cmd, "cwd": cwd, "uid": uid, "euid": uid, "auid": uid, "time": t,
			"syscall": "execve"})
	}
	files := make([]map[string]string, 0, benchFiles)
	for i := range benchFiles {
		files = append(files, map[string]string{"target_path": "/tmp/f" + strconv.Itoa(i%5000), "action": "UPDATED",
			"category": "compile_lineage_tmp", "time": strconv.Itoa(t0 + i*benchSpan/benchFiles)})
	}
	socks := make([]map[string]string, 0, benchSockets)
	for i := range benchSockets {
		socks = append(socks, map[string]string{"action": "connect", "pid": strconv.Itoa(10_000 + (i*2)%benchProcs),
			"path": tools[i%len(tools)], "family": "2", "remote_address": "198.51.100." + strconv.Itoa(i%250),
			"remote_port": "443", "local_address": "10.0.0.5", "local_port": strconv.Itoa(30_000 + i%20_000),
			"time": strconv.Itoa(t0 + i*benchSpan/benchSockets), "status": "succeeded"})
	}
	return map[string][]map[string]string{
		"process_events": procs, "file_events": files, "socket_events": socks,
		"processes": {{"pid": "510", "parent": "505", "name": "php-fpm8.2", "path": "/usr/sbin/php-fpm8.2",
			"cmdline": "php-fpm: pool www", "start_time": strconv.Itoa(t0 - 1000), "uid": "33"}},
		"users": {{"uid": "33", "username": "www-data"}, {"uid": "1000", "username": "dev"}},
	}
}

// syntheticWindows builds the same load for Windows: ETW process starts and Sysmon 1, 11 and 3 in
// windows_events. Every 200th start is csc.exe under MSBuild (a build); every 10th of those runs under
// wscript.exe instead.
func syntheticWindows() map[string][]map[string]string {
	const fw = `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\`
	const msbuild = `C:\Program Files\Microsoft Visual Studio\2022\Community\MSBuild\Current\Bin\amd64\MSBuild.exe`
	tools := []string{`C:\Windows\System32\cmd.exe`, `C:\Windows\System32\conhost.exe`,
		`C:\Windows\System32\svchost.exe`, `C:\Windows\explorer.exe`, `C:\Windows\System32\notepad.exe`}
	paths := make([]string, benchProcs)
	parents := make([]int, benchProcs)
	for i := range benchProcs {
		paths[i] = tools[i%len(tools)]
		parents[i] = max(0, i-1-i%40)
	}
	for i := compilerEvery; i < benchProcs; i += compilerEvery {
		paths[i] = fw + "csc.exe"
		parents[i] = i - 1
		paths[i-1] = msbuild
		if i%(compilerEvery*10) == 0 {
			paths[i-1] = `C:\Windows\System32\wscript.exe`
		}
	}
	etw := make([]map[string]string, 0, benchProcs)
	events := make([]map[string]string, 0, benchProcs+benchFiles+benchSockets)
	sysmon := func(t, eid int, data map[string]string) map[string]string {
		b, _ := json.Marshal(map[string]any{"EventData": data})
		return map[string]string{"time": strconv.Itoa(t), "source": "Microsoft-Windows-Sysmon/Operational",
			"provider_name": "Microsoft-Windows-Sysmon", "eventid": strconv.Itoa(eid), "data": string(b)}
	}
	utc := func(t int) string { return time.Unix(int64(t), 0).UTC().Format("2006-01-02 15:04:05.000") }
	guid := func(pid int) string { return fmt.Sprintf("{00000000-0000-0000-0000-%012d}", pid) }
	cmdOf := func(i int) string { return paths[i] + " job" + strconv.Itoa(i) }
	for i := range benchProcs {
		pid, ppid := 10_000+i, 10_000+parents[i]
		t := t0 + i*benchSpan/benchProcs
		etw = append(etw, map[string]string{"type": "ProcessStart", "pid": strconv.Itoa(pid), "ppid": strconv.Itoa(ppid),
			"path": paths[i], "cmdline": cmdOf(i), "username": `CORP\dev`, "time": strconv.Itoa(t)})
		events = append(events, sysmon(t, 1, map[string]string{"UtcTime": utc(t), "ProcessGuid": guid(pid),
			"ProcessId": strconv.Itoa(pid), "Image": paths[i], "CommandLine": cmdOf(i), "User": `CORP\dev`,
			"ParentProcessGuid": guid(ppid), "ParentProcessId": strconv.Itoa(ppid), "ParentImage": paths[parents[i]],
			"ParentCommandLine": cmdOf(parents[i])}))
	}
	for i := range benchFiles {
		t := t0 + i*benchSpan/benchFiles
		n := (i / 2) % benchProcs
		events = append(events, sysmon(t, 11, map[string]string{"UtcTime": utc(t), "ProcessGuid": guid(10_000 + n),
			"ProcessId": strconv.Itoa(10_000 + n), "Image": paths[n],
			"TargetFilename": `C:\Users\dev\AppData\Local\Temp\f` + strconv.Itoa(i%5000) + ".tmp"}))
	}
	for i := range benchSockets {
		t := t0 + i*benchSpan/benchSockets
		n := (i * 2) % benchProcs
		events = append(events, sysmon(t, 3, map[string]string{"UtcTime": utc(t), "ProcessGuid": guid(10_000 + n),
			"ProcessId": strconv.Itoa(10_000 + n), "Image": paths[n], "Protocol": "tcp", "Initiated": "true",
			"DestinationIp": "198.51.100." + strconv.Itoa(i%250), "DestinationPort": "443"}))
	}
	return map[string][]map[string]string{"process_etw_events": etw, "windows_events": events}
}

func fixturesOf(tb testing.TB, name string, tables map[string][]map[string]string) *replay.Fixtures {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(tables); err != nil {
		tb.Fatal(err)
	}
	fx, err := replay.ParseFixture(name, &buf)
	if err != nil {
		tb.Fatalf("parse synthetic %s fixtures: %v", name, err)
	}
	return fx
}

// BenchmarkPackQueries runs every query in the replay harness over a synthetic buffer of 100,000 process
// events (0.5% compilers), 200,000 file events and 50,000 socket events, per platform, and reports ns/op
// and the rows each returns. A query costing more than budgetScans full reads of the buffer (at least one
// second) fails the benchmark.
func BenchmarkPackQueries(b *testing.B) {
	qs := mustEmbedded(b)
	for _, platform := range []string{"linux", "windows"} {
		var tables map[string][]map[string]string
		if platform == "linux" {
			tables = syntheticLinux()
		} else {
			tables = syntheticWindows()
		}
		h := startHarnessFixtures(b, fixturesOf(b, platform, tables))
		if h.Platform() != platform {
			b.Fatalf("synthetic fixtures detected as %s, want %s", h.Platform(), platform)
		}
		// Reference: one full read of every event table of the buffer. It is measured here, outside the
		// sub-benchmarks, so the budget holds even when -bench selects only some queries.
		var scan time.Duration
		for _, table := range eventTables[platform] {
			sqlText := "SELECT * FROM " + table + ";"
			start := time.Now()
			if _, err := h.Query(context.Background(), sqlText); err != nil {
				b.Fatalf("%s: %v", sqlText, err)
			}
			scan += time.Since(start)
			b.Run(platform+"/reference_full_scan_"+table, func(b *testing.B) {
				runBench(b, h, "reference", sqlText)
			})
		}
		budget := max(time.Second, budgetScans*scan)
		for _, q := range qs {
			if !contains(q.Platforms, platform) {
				continue
			}
			b.Run(platform+"/"+q.Name, func(b *testing.B) {
				if per := runBench(b, h, q.Name, q.SQL); per > budget {
					b.Errorf("%s takes %v per run on the synthetic buffer, over the budget of %v (%d full reads of the buffer)",
						q.Name, per, budget, budgetScans)
				}
			})
		}
	}
}

// runBench runs sqlText in the harness b.N times, reports the rows it returns and the time per run.
func runBench(b *testing.B, h *replay.Harness, name, sqlText string) time.Duration {
	var rows int
	start := time.Now()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		res, err := h.Query(ctx, sqlText)
		cancel()
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		rows = len(res)
	}
	b.ReportMetric(float64(rows), "rows")
	return time.Since(start) / time.Duration(b.N)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
