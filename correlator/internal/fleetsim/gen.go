// Package fleetsim runs a correlator consumer group against an in-process
// Kafka (kfake) the way a fleet would feed it, kills and adds members, and
// compares the alerts delivered with a batch `correlator score` and a
// sequential `correlator run --once` of the same lines. The scenario test
// and `make fleet-demo` both use it.
package fleetsim

import (
	"fmt"
	"strings"
)

// Line is one result-log line and the host it belongs to.
type Line struct {
	Host string // hostname (osquery's kafka_producer keys records by it)
	Data []byte
}

// parents are fleet-wide parent classes: every pair they form is seen in
// the seed phase first, so the fleet's first sighting of each is not a race.
var parents = []struct{ name, path, class, reasons string }{
	{"mshta.exe", `C:\\Windows\\System32\\mshta.exe`, "script_host", "parent_elastic_list;temp_output"},
	{"wscript.exe", `C:\\Windows\\System32\\wscript.exe`, "script_host", "temp_output"},
	{"winword.exe", `C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE`, "office", "parent_office;temp_output"},
	{"powershell.exe", `C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe`, "shell", "parent_encoded_powershell"},
	{"w3wp.exe", `C:\\Windows\\System32\\inetsrv\\w3wp.exe`, "web_server", "parent_web_server"},
	{"devenv.exe", `C:\\Program Files\\Microsoft Visual Studio\\2022\\Community\\Common7\\IDE\\devenv.exe`, "dev_tool", ""},
}

var compilers = []string{"csc.exe", "vbc.exe", "msbuild.exe"}

var stages = []string{"compile", "written", "executed", "network"}

// Generate returns the seed lines (one lineage per fleet-wide pair) and the
// stream lines (every host's lineages reported stage by stage, interleaved
// across hosts, with other queries' rows in between). Each host's lines
// have strictly increasing unixTime. Some hosts also run a parent of their
// own, a pair only that host ever shows.
func Generate(hosts int) (seed, stream []Line) {
	const base = 1764000000
	name := func(h int) string { return fmt.Sprintf("ws-%05d", h) }
	uuid := func(h int) string { return fmt.Sprintf("4c4c4544-%04d-4000-8000-%012d", h%10000, h) }
	clock := make([]int64, hosts)
	next := func(h int) int64 { clock[h]++; return base + int64(h%97)*10 + clock[h] }
	n := 0
	for pi := range parents {
		for ci := range compilers {
			h := (pi*len(compilers) + ci) % hosts
			seed = append(seed, Line{Host: name(h), Data: lineage(name(h), uuid(h), fmt.Sprintf("seed-%d-%d", pi, ci), parents[pi].name, parents[pi].path, parents[pi].class, parents[pi].reasons, compilers[ci], "compile", next(h))})
			n++
		}
	}
	type plan struct{ rows []Line }
	per := make([]plan, hosts)
	for h := range hosts {
		for l := range 2 {
			p := parents[(h+l)%len(parents)]
			c := compilers[(h*7+l)%len(compilers)]
			pname, ppath, pclass, reasons := p.name, p.path, p.class, p.reasons
			if l == 1 && h%5 == 0 {
				// a tool only this host runs: its pair is new to the fleet here
				pname = fmt.Sprintf("tool%05d.exe", h)
				ppath = `C:\\Users\\Public\\` + pname
				pclass, reasons = "unknown", "user_space_parent_non_dev;temp_source"
			}
			top := 1 + (h+l)%len(stages)
			for s := range top {
				per[h].rows = append(per[h].rows, Line{Host: name(h), Data: lineage(name(h), uuid(h), fmt.Sprintf("h%05d-l%d", h, l), pname, ppath, pclass, reasons, c, stages[s], next(h))})
				per[h].rows = append(per[h].rows, Line{Host: name(h), Data: other(name(h), uuid(h), next(h))})
			}
		}
	}
	for round := 0; ; round++ {
		any := false
		for h := range hosts {
			if round < len(per[h].rows) {
				stream = append(stream, per[h].rows[round])
				any = true
			}
		}
		if !any {
			break
		}
	}
	return seed, stream
}

func lineage(host, uuid, id, pname, ppath, pclass, reasons, compiler, stage string, t int64) []byte {
	written, execs, conns, origin := 0, 0, 0, ""
	switch stage {
	case "written":
		written = 1
	case "executed":
		written, execs = 1, 1
	case "network":
		written, execs, conns, origin = 1, 1, 1, "artifact"
	}
	lid := fmt.Sprintf("%08x-0000-5000-8000-%012x", hash(id)&0xffffffff, hash(id+"/")&0xffffffffffff)
	cpath := `C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\` + compiler
	return []byte(fmt.Sprintf(`{"name":"pack/Global/compile_lineage","hostIdentifier":"%s","calendarTime":"Tue Nov 25 10:00:00 2025 UTC","unixTime":%d,"epoch":0,"counter":1,"numerics":false,"decorations":{"host_uuid":"%s","hostname":"%s"},"columns":{"lineage_id":"%s","time":"%d","platform":"windows","source":"sysmon","compiler_pid":"4242","compiler_guid":"{11111111-2222-3333-4444-555555555555}","compiler_path":"%s","compiler_name":"%s","compiler_original_name":"%s","compiler_cmdline":"%s /out:C:\\Users\\Public\\x.exe","compiler_user":"CORP\\alice","parent_pid":"4100","parent_path":"%s","parent_name":"%s","parent_cmdline":"%s","ancestry":"explorer.exe > %s > %s","parent_class":"%s","output_path":"C:\\Users\\Public\\%s.exe","output_source":"cmdline","artifact_written":"%d","artifact_written_time":"0","artifact_sha256":"","executions":"%d","first_exec_pid":"0","first_exec_time":"0","connections":"%d","first_remote_address":"","first_remote_port":"0","connection_origin":"%s","followup_processes":"","stage":"%s","link_evidence":"","suspicious":"1","reasons":"%s","telemetry_gaps":""},"action":"added"}`,
		host, t, uuid, host, lid, t-5, cpath, compiler, compiler, compiler, ppath, pname, pname, pname, compiler, pclass, strings.ReplaceAll(id, "-", "_"), written, execs, conns, origin, stage, reasons))
}

func other(host, uuid string, t int64) []byte {
	return []byte(fmt.Sprintf(`{"name":"pack/Global/processes","hostIdentifier":"%s","calendarTime":"Tue Nov 25 10:00:00 2025 UTC","unixTime":%d,"epoch":0,"counter":3,"numerics":false,"decorations":{"host_uuid":"%s","hostname":"%s"},"columns":{"pid":"812","name":"svchost.exe","path":"C:\\Windows\\System32\\svchost.exe","cmdline":"svchost.exe -k netsvcs","parent":"712","uid":"0","start_time":"%d"},"action":"added"}`, host, t, uuid, host, t))
}

func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
