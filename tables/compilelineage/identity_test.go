package compilelineage

import (
	"strings"
	"testing"
)

// es builds an EndpointSecurity exec: pid and pidversion, parent pid and pidversion.
func es(pid, pv, ppid, ppv int64, seq int64, sec float64, path, cmdline, cwd string) Proc {
	p := Proc{PID: pid, PIDVersion: pv, PPID: ppid, ParentPIDVersion: ppv, Seq: seq, Path: path, Cmdline: cmdline, Cwd: cwd,
		Time: at(sec), Source: "es_process_events"}
	p.Key = esKey("es_process_events", p)
	return p
}

func TestESProcsCarryPIDVersion(t *testing.T) {
	rows := []map[string]string{
		{"time": "1764300001", "pid": "710", "ppid": "700", "pidv": "5001", "ppidv": "5000", "gseq": "102", "path": "/usr/bin/gcc"},
		{"time": "1764300001", "pid": "710", "ppid": "700", "pidv": "", "ppidv": "", "gseq": "", "path": "/usr/bin/gcc"},
		{"time": "1764300001", "pid": "710", "ppid": "700", "pidv": "5001", "ppidv": "0", "gseq": "", "path": "/usr/bin/gcc"},
	}
	got := esProcs.procs(rows)
	for i, w := range []struct {
		key     string
		pv, ppv int64
	}{
		{"es_process_events:710:5001#102", 5001, 5000},
		{"es_process_events:710@1764300001000", 0, 0}, // an export without pidversion: pid@start as before
		{"es_process_events:710:5001@1764300001000", 5001, 0},
	} {
		if got[i].Key != w.key || got[i].PIDVersion != w.pv || got[i].ParentPIDVersion != w.ppv {
			t.Errorf("row %d: key %q pidversion %d parent %d, want %q %d %d", i, got[i].Key, got[i].PIDVersion, got[i].ParentPIDVersion, w.key, w.pv, w.ppv)
		}
	}
	if sql := esProcs.selectSQL("1 = 1"); !strings.Contains(sql, "pidversion AS pidv") || !strings.Contains(sql, "parent_pidversion AS ppidv") {
		t.Errorf("es select lacks the pidversion columns: %s", sql)
	}
}

// TestPIDVersionIdentity: pid reuse inside the same second, told apart by pidversion.
func TestPIDVersionIdentity(t *testing.T) {
	const tool = "/Users/amy/bin/tool"
	zsh := es(700, 5000, 650, 4000, 101, 0, "/bin/zsh", "zsh", "/Users/amy")
	gcc := es(710, 5001, 700, 5000, 102, 1, "/usr/bin/gcc", "gcc -o "+tool+" /Users/amy/tool.c", "/Users/amy")
	bash := es(700, 5006, 1, 1, 104, 1, "/bin/bash", "bash run.sh", "/")
	clang := es(710, 5007, 700, 5006, 105, 1, "/usr/bin/clang", "clang -o /Users/Shared/agent /Users/Shared/agent.c", "/")
	tests := []struct {
		name           string
		procs          []Proc
		files          []FileEvent
		conns          []Conn
		compiler       string
		parent, output string
		written        bool
		connections    int
		ancestry       string
	}{
		{"compile keeps its parent though the pid was reused the same second", []Proc{zsh, gcc, bash, clang}, nil, nil,
			"gcc", "/bin/zsh", tool, false, 0, "zsh > gcc"},
		{"reused pid takes the new parent", []Proc{zsh, gcc, bash, clang}, nil, nil,
			"clang", "/bin/bash", "/Users/Shared/agent", false, 0, "bash > clang"},
		{"write by the pid before the reuse is the compile's", []Proc{zsh, gcc, bash, es(710, 5007, 700, 5006, 105, 3, clang.Path, clang.Cmdline, "/")},
			[]FileEvent{{PID: 710, Path: tool, Time: at(2)}}, nil, "gcc", "/bin/zsh", tool, true, 0, "zsh > gcc"},
		{"the reused process does not inherit that write", []Proc{zsh, gcc, bash, es(710, 5007, 700, 5006, 105, 3, clang.Path, clang.Cmdline, "/")},
			[]FileEvent{{PID: 710, Path: tool, Time: at(2)}}, nil, "clang", "/bin/bash", "/Users/Shared/agent", false, 0, "bash > clang"},
		{"write after a same-second reuse is the new process's", []Proc{zsh, gcc, bash, clang},
			[]FileEvent{{PID: 710, Path: "/Users/Shared/agent", Time: at(1)}}, nil, "gcc", "/bin/zsh", tool, false, 0, "zsh > gcc"},
		{"connection after the reuse is not the compile's", []Proc{zsh, gcc, bash, clang}, nil,
			[]Conn{{PID: 710, Remote: "203.0.113.7", Port: 4444, Time: at(1)}}, "gcc", "/bin/zsh", tool, false, 0, "zsh > gcc"},
		{"parent outside the buffer is not the reused pid's process", []Proc{gcc, bash, clang}, nil, nil,
			"gcc", "", tool, false, 0, "gcc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := nixEv("darwin", tt.procs, tt.files, tt.conns)
			l := lineageOf(t, ev, tt.compiler)
			if l.Parent.Path != tt.parent || l.OutputPath != tt.output || l.Written != tt.written || l.Connections != tt.connections ||
				joinNames(l.Ancestry) != tt.ancestry {
				t.Errorf("parent %q output %q written %v connections %d ancestry %q; want %q %q %v %d %q",
					l.Parent.Path, l.OutputPath, l.Written, l.Connections, joinNames(l.Ancestry), tt.parent, tt.output, tt.written, tt.connections, tt.ancestry)
			}
		})
	}
}
