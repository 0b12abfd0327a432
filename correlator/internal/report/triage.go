package report

import (
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Query is one osquery query of a playbook.
type Query struct {
	Name    string // what it answers
	Table   string // the osquery table it needs (first in FROM)
	SQL     string
	Command string // the same query as a fleetctl line
}

// Playbook is what to do next about one alert.
type Playbook struct {
	Steps   []string
	Queries []Query
}

// Run-key locations read by the registry query (osquery's registry table
// takes key constraints with = and LIKE).
var runKeys = []string{
	`HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run`,
	`HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\RunOnce`,
	`HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Run`,
	`HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\RunOnce`,
}

const userRunKeys = `HKEY_USERS\%\SOFTWARE\Microsoft\Windows\CurrentVersion\Run%`

// Triage builds the playbook of an alert: plain steps, and osquery queries
// filled in with its artifact path, pids and parent. Every value from the
// telemetry enters the SQL through SQLString only.
func Triage(v *Alert) Playbook {
	var p Playbook
	art := v.ArtifactPath
	dir := dirName(art)
	win := v.Platform == "windows"
	pids := v.pids()
	step := func(format string, a ...any) { p.Steps = append(p.Steps, fmt.Sprintf(format, a...)) }
	q := func(name, table, sql string) {
		p.Queries = append(p.Queries, Query{Name: name, Table: table, SQL: sql, Command: FleetctlLine(fleetHost(v), sql)})
	}

	step("Confirm who started the compile: %s (pid %s) was started by %s (pid %s, %s). Ask the host's owner whether that is expected on a %s.",
		dash(v.Compiler.Name), pidText(v.Compiler.PID), dash(v.Parent.Name), pidText(v.Parent.PID), dash(v.Parent.Class), dash(v.Role))
	if art != "" {
		step("Hash the artifact %s and check its signature; look the hash up in your threat intelligence. An unsigned binary freshly compiled in a user-writable folder is the pattern.", art)
		step("See whether the artifact, the compiler's parent or their children still run (pids are reused: compare start times with %s).", v.Time.Format("2006-01-02 15:04:05Z"))
		step("Look for persistence pointing at %s: scheduled tasks, services, run keys, startup items, cron or launchd entries; then for copies of it under other names (same hash).", art)
		step("List the rest of the compile's folder %s: sources, response files and other outputs left behind.", dash(dir))
	} else {
		step("No artifact path is known: look at the processes started by pid %s and at the compiler's command line for the output.", pidText(v.Parent.PID))
	}
	if v.Connections > 0 {
		step("The chain connected to %s: check current connections of the lineage's processes, and that address in proxy, DNS and firewall logs.", hostPort(v.RemoteAddress))
	} else {
		step("Check current connections of the lineage's processes.")
	}
	step("If it is malicious: isolate the host, keep the artifact and the response files, and look for the same hash and parent > compiler pair on other hosts.")

	if art != "" {
		lit := SQLString(art)
		q("artifact hash", "hash", "SELECT path, md5, sha1, sha256 FROM hash WHERE path = "+lit+";")
		switch v.Platform {
		case "windows":
			q("artifact signature", "authenticode", "SELECT path, result, subject_name, issuer_name, serial_number FROM authenticode WHERE path = "+lit+";")
		case "darwin":
			q("artifact signature", "signature", "SELECT path, signed, identifier, team_identifier, authority FROM signature WHERE path = "+lit+";")
		}
	}
	where := procWhere("path", "pid", art, pids, win)
	if where != "" {
		q("running processes of the lineage", "processes",
			"SELECT pid, parent, name, path, cmdline, start_time FROM processes WHERE "+where+" OR parent IN ("+pidList(pids)+");")
		sw := procWhere("p.path", "s.pid", art, pids, win)
		if v.RemoteAddress != "" {
			sw += " OR s.remote_address = " + SQLString(v.RemoteAddress)
		}
		q("open sockets of the lineage", "process_open_sockets",
			"SELECT s.pid, p.name, p.path, s.local_address, s.local_port, s.remote_address, s.remote_port, s.state FROM process_open_sockets s LEFT JOIN processes p USING (pid) WHERE "+sw+";")
	}
	if art != "" {
		nl := SQLString(art)
		has := func(col string) string {
			if win {
				return "instr(lower(" + col + "), lower(" + nl + ")) > 0"
			}
			return "instr(" + col + ", " + nl + ") > 0"
		}
		switch v.Platform {
		case "windows":
			q("scheduled tasks running it", "scheduled_tasks",
				"SELECT name, path, action, enabled, state, last_run_time FROM scheduled_tasks WHERE "+has("action")+";")
			q("services running it", "services",
				"SELECT name, display_name, status, start_type, path, module_path, user_account FROM services WHERE "+has("path")+" OR "+has("module_path")+";")
			keys := make([]string, len(runKeys))
			for i, k := range runKeys {
				keys[i] = SQLString(k)
			}
			q("run keys starting it", "registry",
				"SELECT key, path, name, data, mtime FROM registry WHERE (key IN ("+strings.Join(keys, ", ")+") OR key LIKE "+SQLString(userRunKeys)+") AND "+has("data")+";")
		case "darwin":
			q("launchd jobs running it", "launchd",
				"SELECT label, path, program, program_arguments, run_at_load FROM launchd WHERE "+has("program")+" OR "+has("program_arguments")+";")
		}
		q("startup items running it", "startup_items",
			"SELECT name, path, args, type, source, status, username FROM startup_items WHERE "+has("path")+" OR "+has("args")+";")
		if !win {
			q("cron entries running it", "crontab",
				"SELECT event, minute, hour, day_of_month, month, day_of_week, command, path FROM crontab WHERE "+has("command")+";")
		}
		if dir != "" {
			q("the rest of the compile's folder", "file",
				"SELECT path, size, mtime, btime, type FROM file WHERE directory = "+SQLString(dir)+";")
		}
	}
	return p
}

// procWhere selects processes by artifact path or pid.
func procWhere(pathCol, pidCol, art string, pids []int64, win bool) string {
	var or []string
	if art != "" {
		if win {
			or = append(or, "lower("+pathCol+") = lower("+SQLString(art)+")")
		} else {
			or = append(or, pathCol+" = "+SQLString(art))
		}
	}
	if len(pids) > 0 {
		or = append(or, pidCol+" IN ("+pidList(pids)+")")
	}
	return strings.Join(or, " OR ")
}

func pidList(pids []int64) string {
	if len(pids) == 0 {
		return "NULL"
	}
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}

// fleetHost names the host for fleetctl --hosts: its hostname, else the
// correlator's host key.
func fleetHost(v *Alert) string {
	if v.Hostname != "" {
		return v.Hostname
	}
	return v.Host
}

// SQLString quotes s as an SQLite string literal that compares equal to s
// exactly: printable UTF-8 goes between single quotes with quotes doubled;
// anything with control characters or invalid UTF-8 is hex-encoded
// (CAST(X'..' AS TEXT)), so no byte of the telemetry can end the literal
// or reach a terminal as an escape sequence.
func SQLString(s string) string {
	if printable(s) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return "CAST(X'" + strings.ToUpper(hex.EncodeToString([]byte(s))) + "' AS TEXT)"
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// ShellQuote quotes s as one POSIX shell word.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// FleetctlLine is the fleetctl live-query command of sql on host.
func FleetctlLine(host, sql string) string {
	return "fleetctl query --hosts " + ShellQuote(host) + " --query " + ShellQuote(sql)
}
