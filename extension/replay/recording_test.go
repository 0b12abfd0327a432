package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"
)

// The scheduled-replay recording, built here and kept in testdata/sched_sysmon_office.json. It follows
// the chain public reports of MITRE T1027.004 (Compile After Delivery) describe on Windows: a user's Office
// process compiles a dropped C# source with csc.exe long after it started, the compiled binary is started
// later by the Task Scheduler, and it connects out. Six hours of a workstation's ordinary activity surround
// it. Times (offsets from recordingStart, 2025-11-24 16:00:00 UTC):
//
//	+0      explorer.exe (pid 1000) starts; svchost.exe -k netsvcs (Schedule service, pid 900) runs
//	+600    WINWORD.EXE (pid 3000) starts from explorer
//	+4810   WINWORD starts csc.exe (pid 3100) compiling C:\Users\Public\upd.cs   (70 min after WINWORD)
//	+4812   csc.exe writes C:\Users\Public\upd.exe
//	+7212   svchost (Task Scheduler) starts upd.exe (pid 3300)                  (40 min after the write)
//	+7220   upd.exe connects to 203.0.113.7:443
//	every 180 s from +30 to +6 h: chrome.exe, backgroundTaskHost.exe, conhost.exe starts and ends, chrome
//	connections, OneDrive file writes
const recordingStart = int64(1764000000)

const sysmonProvider = "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"

type recording struct{ rows []map[string]string }

func guid(pid int) string { return fmt.Sprintf("{9a1b2c3d-0000-6000-%04x-%012x}", pid, pid) }

func (r *recording) event(offset int64, eid int, data map[string]string) {
	t := time.Unix(recordingStart+offset, 0).UTC()
	data["RuleName"] = "-"
	data["UtcTime"] = t.Format("2006-01-02 15:04:05.000")
	b, _ := json.Marshal(map[string]map[string]string{"EventData": data})
	r.rows = append(r.rows, map[string]string{
		"time": strconv.FormatInt(recordingStart+offset, 10), "datetime": t.Format("2006-01-02T15:04:05.000000000Z"),
		"source": "Microsoft-Windows-Sysmon/Operational", "provider_name": "Microsoft-Windows-Sysmon",
		"provider_guid": sysmonProvider, "computer_name": "WS01.corp.example", "eventid": strconv.Itoa(eid),
		"task": strconv.Itoa(eid), "level": "4", "keywords": "0x8000000000000000", "data": string(b),
	})
}

type proc struct {
	pid     int
	image   string
	cmdline string
	user    string
}

func (r *recording) start(offset int64, p, parent proc) {
	r.event(offset, 1, map[string]string{
		"ProcessGuid": guid(p.pid), "ProcessId": strconv.Itoa(p.pid), "Image": p.image, "FileVersion": "-",
		"Description": "-", "Product": "-", "Company": "-", "OriginalFileName": baseName(p.image),
		"CommandLine": p.cmdline, "CurrentDirectory": `C:\Users\alice\`, "User": p.user,
		"LogonGuid": "{9a1b2c3d-0000-6000-0000-000000000001}", "LogonId": "0x1", "TerminalSessionId": "1",
		"IntegrityLevel": "Medium", "Hashes": fmt.Sprintf("SHA256=%064x", p.pid),
		"ParentProcessGuid": guid(parent.pid), "ParentProcessId": strconv.Itoa(parent.pid),
		"ParentImage": parent.image, "ParentCommandLine": parent.cmdline, "ParentUser": parent.user,
	})
}

func (r *recording) end(offset int64, p proc) {
	r.event(offset, 5, map[string]string{"ProcessGuid": guid(p.pid), "ProcessId": strconv.Itoa(p.pid),
		"Image": p.image, "User": p.user})
}

func (r *recording) write(offset int64, p proc, target string) {
	r.event(offset, 11, map[string]string{"ProcessGuid": guid(p.pid), "ProcessId": strconv.Itoa(p.pid),
		"Image": p.image, "TargetFilename": target,
		"CreationUtcTime": time.Unix(recordingStart+offset, 0).UTC().Format("2006-01-02 15:04:05.000"), "User": p.user})
}

func (r *recording) connect(offset int64, p proc, ip string, port int) {
	r.event(offset, 3, map[string]string{"ProcessGuid": guid(p.pid), "ProcessId": strconv.Itoa(p.pid),
		"Image": p.image, "User": p.user, "Protocol": "tcp", "Initiated": "true", "SourceIsIpv6": "false",
		"SourceIp": "10.0.0.23", "SourceHostname": "WS01", "SourcePort": strconv.Itoa(50000 + int(offset%10000)),
		"SourcePortName": "-", "DestinationIsIpv6": "false", "DestinationIp": ip, "DestinationHostname": "-",
		"DestinationPort": strconv.Itoa(port), "DestinationPortName": "-"})
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '\\' || p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

var (
	recSystem    = proc{4, `C:\Windows\System32\services.exe`, `C:\Windows\system32\services.exe`, `NT AUTHORITY\SYSTEM`}
	recSchedule  = proc{900, `C:\Windows\System32\svchost.exe`, `C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`, `NT AUTHORITY\SYSTEM`}
	recUserinit  = proc{990, `C:\Windows\System32\userinit.exe`, `C:\Windows\system32\userinit.exe`, `CORP\alice`}
	recExplorer  = proc{1000, `C:\Windows\explorer.exe`, `C:\Windows\Explorer.EXE`, `CORP\alice`}
	recWord      = proc{3000, `C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`, `"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "C:\Users\alice\Downloads\Q4-invoice.docm"`, `CORP\alice`}
	recCsc       = proc{3100, `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\csc.exe`, `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\csc.exe /nologo /target:exe /out:C:\Users\Public\upd.exe C:\Users\Public\upd.cs`, `CORP\alice`}
	recArtifact  = proc{3300, `C:\Users\Public\upd.exe`, `C:\Users\Public\upd.exe`, `CORP\alice`}
	recArtifactW = `C:\Users\Public\upd.exe`
)

// officeRecording builds the recording.
func officeRecording() map[string][]map[string]string {
	r := &recording{}
	r.start(0, recSchedule, recSystem)
	r.start(0, recExplorer, recUserinit)
	r.start(600, recWord, recExplorer)
	r.start(4810, recCsc, recWord)
	r.write(4812, recCsc, recArtifactW)
	r.end(4813, recCsc)
	r.start(7212, recArtifact, recSchedule)
	r.connect(7220, recArtifact, "203.0.113.7", 443)
	pid := 5000
	for off := int64(30); off < 6*3600; off += 180 {
		chrome := proc{pid, `C:\Program Files\Google\Chrome\Application\chrome.exe`,
			`"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer`, `CORP\alice`}
		task := proc{pid + 1, `C:\Windows\System32\backgroundTaskHost.exe`,
			`"C:\Windows\system32\backgroundTaskHost.exe" -ServerName:App.AppXmtcan0h2tfbfy7k9kn8hbxb6dmzz1zh0.mca`, `CORP\alice`}
		conhost := proc{pid + 2, `C:\Windows\System32\conhost.exe`, `\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1`, `CORP\alice`}
		onedrive := proc{1200, `C:\Users\alice\AppData\Local\Microsoft\OneDrive\OneDrive.exe`, `OneDrive.exe /background`, `CORP\alice`}
		r.start(off, chrome, recExplorer)
		r.connect(off+2, chrome, "142.250.74."+strconv.Itoa(int(off/180%250)), 443)
		r.start(off+10, task, recSchedule)
		r.start(off+20, conhost, recExplorer)
		r.write(off+25, onedrive, fmt.Sprintf(`C:\Users\alice\OneDrive\Documents\notes-%d.txt`, off))
		r.end(off+40, task)
		r.end(off+50, conhost)
		r.end(off+80, chrome)
		pid += 4
	}
	sort.SliceStable(r.rows, func(i, j int) bool { return r.rows[i]["time"] < r.rows[j]["time"] })
	return map[string][]map[string]string{
		"windows_events": r.rows,
		"system_info":    {{"hostname": "WS01.corp.example", "uuid": "6f1c2d3e-0000-4000-8000-0000000000a1", "computer_name": "WS01"}},
	}
}

const officeRecordingFile = "testdata/sched_sysmon_office.json"

func TestOfficeRecordingIsCurrent(t *testing.T) {
	b, err := json.MarshalIndent(officeRecording(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(officeRecordingFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(officeRecordingFile)
	if err != nil {
		t.Fatalf("%v (run go test ./extension/replay -run TestOfficeRecordingIsCurrent -update)", err)
	}
	if !bytes.Equal(have, b) {
		t.Fatalf("%s differs from officeRecording(); run with -update", officeRecordingFile)
	}
}
