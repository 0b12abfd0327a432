package windowsvm

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/fixture"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/pslint"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/replaycheck"
)

var placeholder = regexp.MustCompile(`__[A-Z0-9]+__`)

// TestVagrantfile runs `ruby -c` and the Ruby stub that loads the Vagrantfile with a fake Vagrant.configure.
// Debian's `vagrant validate` cannot load the winrm gem, so this is the check CI can run (.ci/run installs ruby).
func TestVagrantfile(t *testing.T) {
	ruby, err := exec.LookPath("ruby")
	if err != nil {
		t.Skip("ruby is not on PATH: install it (apt-get install -y ruby) to check the Vagrantfile")
	}
	out, err := exec.Command(ruby, "-c", "Vagrantfile").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Syntax OK") {
		t.Fatalf("ruby -c Vagrantfile: %v: %s", err, out)
	}
	out, err = exec.Command(ruby, filepath.Join("test", "vagrantfile_check.rb"), "Vagrantfile").CombinedOutput()
	t.Logf("vagrantfile_check.rb:\n%s", out)
	if err != nil {
		t.Fatalf("vagrantfile_check.rb failed: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^([1-9][0-9]*) passed, 0 failed$`).MatchString(last) {
		t.Fatalf("vagrantfile_check.rb summary %q, want N passed, 0 failed", last)
	}
	for _, want := range []string{"box version pinned", "communicator is winrm", "provider hyperv configured",
		"provider virtualbox memory >= 4096 MB", "provider virtualbox cpus >= 4", "provider hyperv cpus >= 4", "build/ is synced", "packs/ is synced", "provision script exists: 40-extension.ps1"} {
		if !strings.Contains(string(out), "PASS "+want) {
			t.Errorf("vagrantfile_check.rb did not pass %q", want)
		}
	}
}

func powershellFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".vagrant" || d.Name() == "cache" || d.Name() == "out" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".ps1") || strings.HasSuffix(p, ".psm1")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	if len(files) < 14 {
		t.Fatalf("found %d PowerShell files, want the provisioning, scenario and assertion scripts", len(files))
	}
	return files
}

// TestPowerShellScripts applies windows-vm/internal/pslint to every script: what the Linux host can check
// of their structure (there is no PowerShell here; provision/00-syntax-check.ps1 parses them in the VM).
func TestPowerShellScripts(t *testing.T) {
	for _, p := range powershellFiles(t) {
		t.Run(filepath.ToSlash(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("read %s: %v", p, err)
			}
			dir := filepath.ToSlash(filepath.Dir(p))
			opts := pslint.Options{Library: dir == "lib", Offline: strings.HasPrefix(dir, "scenarios") || dir == "assert"}
			for _, f := range pslint.Check(data, opts) {
				t.Errorf("%s:%s", p, f)
			}
		})
	}
}

// TestScenarioPorts: each run.ps1 listens on the port its expected.json names (the scripts read no JSON).
func TestScenarioPorts(t *testing.T) {
	portLine := regexp.MustCompile(`(?m)^\$port = (\d+)\r?$`)
	for _, sc := range loadScenarios(t) {
		run, err := os.ReadFile(filepath.Join(sc.dir, "run.ps1"))
		if err != nil {
			t.Fatal(err)
		}
		m := portLine.FindSubmatch(run)
		switch {
		case sc.exp.ListenerPort == 0 && m != nil:
			t.Errorf("%s: run.ps1 sets $port = %s but expected.json has no listener", sc.name, m[1])
		case sc.exp.ListenerPort != 0 && (m == nil || string(m[1]) != strconv.Itoa(sc.exp.ListenerPort)):
			t.Errorf("%s: run.ps1 must set $port = %d (expected.json listener_port), has %q", sc.name, sc.exp.ListenerPort, m)
		}
		if sc.exp.ListenerPort == 0 {
			continue
		}
		// The fixture's listener is the one run.ps1 starts: same port, same expected first word.
		word := regexp.MustCompile(`'--expect', '([a-z]+)'`).FindSubmatch(run)
		fx, err := os.ReadFile(filepath.Join(sc.dir, "fixture.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if word == nil || !bytes.Contains(fx, []byte(fmt.Sprintf(`listen --port %d `, sc.exp.ListenerPort))) ||
			!bytes.Contains(fx, []byte("--expect "+string(word[1])+" ")) {
			t.Errorf("%s: run.ps1 listener (--expect %q) and the fixture's vmassert listen differ", sc.name, word)
		}
	}
}

// TestSysmonConfig checks the Sysmon configuration is well-formed XML and records process create (1),
// network connect (3), file create (11) and file delete (23).
func TestSysmonConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("provision", "sysmon-config.xml"))
	if err != nil {
		t.Fatalf("read sysmon config: %v", err)
	}
	type condition struct {
		XMLName   xml.Name
		Condition string `xml:"condition,attr"`
		Value     string `xml:",chardata"`
	}
	type rule struct {
		XMLName xml.Name
		OnMatch string      `xml:"onmatch,attr"`
		Items   []condition `xml:",any"`
	}
	var cfg struct {
		XMLName       xml.Name `xml:"Sysmon"`
		SchemaVersion string   `xml:"schemaversion,attr"`
		Hashes        string   `xml:"HashAlgorithms"`
		Groups        []struct {
			Rules []rule `xml:",any"`
		} `xml:"EventFiltering>RuleGroup"`
	}
	if err := xml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("sysmon-config.xml is not well-formed: %v", err)
	}
	if !regexp.MustCompile(`^4\.[0-9]+$`).MatchString(cfg.SchemaVersion) {
		t.Errorf("schemaversion %q, want 4.x", cfg.SchemaVersion)
	}
	if !strings.Contains(strings.ToLower(cfg.Hashes), "sha256") {
		t.Errorf("HashAlgorithms %q must include sha256 (compile_lineage.artifact_sha256)", cfg.Hashes)
	}
	records := map[string]bool{}
	for _, g := range cfg.Groups {
		for _, r := range g.Rules {
			name := r.XMLName.Local
			switch {
			case r.OnMatch == "exclude":
				records[name] = true // exclude rules: everything not excluded is logged
			case r.OnMatch == "include" && len(r.Items) > 0:
				records[name] = true
			}
		}
	}
	for eid, name := range map[int]string{1: "ProcessCreate", 3: "NetworkConnect", 7: "ImageLoad", 11: "FileCreate", 23: "FileDelete"} {
		if !records[name] {
			t.Errorf("sysmon config does not record EID %d (%s)", eid, name)
		}
	}
	// EID 7 is for Roslyn loaded in process (pwsh Add-Type): Microsoft.CodeAnalysis*.dll, nothing else.
	var loads []string
	for _, g := range cfg.Groups {
		for _, r := range g.Rules {
			if r.XMLName.Local == "ImageLoad" && r.OnMatch == "include" {
				for _, c := range r.Items {
					loads = append(loads, c.XMLName.Local+" "+c.Condition+" "+c.Value)
				}
			}
		}
	}
	if !slices.Equal(loads, []string{`ImageLoaded contains \Microsoft.CodeAnalysis`}) {
		t.Errorf("ImageLoad include conditions %q, want only ImageLoaded contains \\Microsoft.CodeAnalysis", loads)
	}
}

// TestOsqueryFlags checks every flag in provision/osquery.flags is a real osquery flag and that the ones
// the extension depends on are set.
func TestOsqueryFlags(t *testing.T) {
	path := filepath.Join("provision", "osquery.flags")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	flags, err := parseFlagFile(path, data)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]string{}
	for _, f := range flags {
		if !knownOsqueryFlags[f.Name] {
			t.Errorf("%s:%d: --%s is not an osquery flag this test bed knows", path, f.Line, f.Name)
		}
		if _, dup := set[f.Name]; dup {
			t.Errorf("%s:%d: --%s set twice", path, f.Line, f.Name)
		}
		set[f.Name] = f.Value
	}
	want := map[string]string{
		"disable_events":                   "false",
		"enable_process_etw_events":        "true",
		"enable_windows_events_publisher":  "true",
		"enable_windows_events_subscriber": "true",
		"enable_ntfs_event_publisher":      "true",
		"extensions_autoload":              `C:\Program Files\osquery\extensions.load`,
		"extensions_socket":                `\\.\pipe\osquery.em`,
		"extensions_require":               "compile_lineage",
		"logger_plugin":                    "filesystem",
		"logger_path":                      `C:\Program Files\osquery\log`,
		"config_path":                      `C:\Program Files\osquery\osquery.conf`,
	}
	for name, v := range want {
		if got, ok := set[name]; !ok || got != v {
			t.Errorf("--%s=%q, want %q", name, got, v)
		}
	}
	// The lab runs osquery's production defaults: the watchdog stays on and evented queries keep
	// events_optimize, so the report's watchdog and denylist checks test the real thing.
	for _, name := range []string{"disable_watchdog", "watchdog_level", "watchdog_memory_limit",
		"watchdog_utilization_limit", "watchdog_delay", "events_optimize", "enable_extensions_watchdog"} {
		if v, ok := set[name]; ok {
			t.Errorf("--%s=%s: keep osquery's default in the lab", name, v)
		}
	}
	channels := strings.Split(set["windows_event_channels"], ",")
	if !slices.Contains(channels, "Microsoft-Windows-Sysmon/Operational") {
		t.Errorf("--windows_event_channels=%q lacks Microsoft-Windows-Sysmon/Operational", set["windows_event_channels"])
	}
}

// TestOsqueryConf checks the daemon configuration loads both packs from where provisioning copies them
// and watches the folders the scenarios write to.
func TestOsqueryConf(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("provision", "osquery.conf"))
	if err != nil {
		t.Fatalf("read osquery.conf: %v", err)
	}
	var conf struct {
		Packs      map[string]string   `json:"packs"`
		FilePaths  map[string][]string `json:"file_paths"`
		Decorators struct {
			Load []string `json:"load"`
		} `json:"decorators"`
	}
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatalf("osquery.conf: %v", err)
	}
	for _, pack := range []string{"compile_after_delivery", "compile_after_delivery_fallback"} {
		want := `C:\Program Files\osquery\packs\` + pack + ".conf"
		if conf.Packs[pack] != want {
			t.Errorf("packs[%s] = %q, want %q", pack, conf.Packs[pack], want)
		}
		if _, err := os.Stat(filepath.Join("..", "packs", pack+".conf")); err != nil {
			t.Errorf("pack %s: %v", pack, err)
		}
	}
	var paths []string
	for _, ps := range conf.FilePaths {
		paths = append(paths, ps...)
	}
	for _, want := range []string{`C:\Users\%\AppData\Local\Temp\%%`, `C:\Windows\Temp\%%`, `C:\Users\Public\%%`, `C:\src\%%`} {
		if !slices.Contains(paths, want) {
			t.Errorf("file_paths lacks %s", want)
		}
	}
	// The NTFS journal publisher resolves file_paths when osqueryd starts: every root must exist by then,
	// as a folder Windows has or one provision/10-base.ps1 creates.
	base, err := os.ReadFile(filepath.Join("provision", "10-base.ps1"))
	if err != nil {
		t.Fatal(err)
	}
	windowsFolders := []string{`C:\Users\%\AppData\Local\Temp`, `C:\Windows\Temp`, `C:\Users\Public`, `C:\ProgramData`}
	for _, p := range paths {
		root := strings.TrimSuffix(strings.TrimSuffix(p, `%%`), `\`)
		if !slices.Contains(windowsFolders, root) && !strings.Contains(string(base), "'"+root+"'") {
			t.Errorf("file_paths root %s is neither a Windows folder nor created by provision/10-base.ps1 before osqueryd starts", root)
		}
	}
	decorators := strings.Join(conf.Decorators.Load, " ")
	if !strings.Contains(decorators, "host_uuid") || !strings.Contains(decorators, "hostname") {
		t.Errorf("decorators %q must add host_uuid and hostname (the correlator's host keys)", decorators)
	}
}

// TestScenarioFolders checks each scenario folder has run.ps1, expected.json (all required keys) and a
// fixture generated from the same scenario list, and that expected pack queries exist in the packs.
func TestScenarioFolders(t *testing.T) {
	var generated []string
	for _, sc := range fixture.Scenarios() {
		generated = append(generated, sc.Name)
	}
	packQueries := map[string]bool{}
	queries, err := replaycheck.LoadPackQueries(filepath.Join("..", "packs"), packFiles...)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range queries {
		packQueries[q.Name] = true
	}
	scenarios := loadScenarios(t)
	kinds := map[string]int{}
	for _, sc := range scenarios {
		kinds[sc.exp.Kind]++
		for _, f := range []string{"run.ps1", "expected.json", "fixture.jsonl"} {
			if _, err := os.Stat(filepath.Join(sc.dir, f)); err != nil {
				t.Errorf("%s: %v", sc.name, err)
			}
		}
		if !slices.Contains(generated, sc.name) {
			t.Errorf("%s has no fixture definition in internal/fixture/scenarios.go", sc.name)
		}
		for _, q := range slices.Concat(sc.exp.PackQueries, sc.exp.ForbiddenPackQueries) {
			if !packQueries[q.Name] {
				t.Errorf("%s: pack query %s is in neither pack", sc.name, q.Name)
			}
		}
		run, err := os.ReadFile(filepath.Join(sc.dir, "run.ps1"))
		if err != nil {
			t.Fatalf("read run.ps1: %v", err)
		}
		// Every placeholder in a dropped template is filled in by run.ps1, and run.ps1 fills no other.
		files, err := os.ReadDir(sc.dir)
		if err != nil {
			t.Fatal(err)
		}
		templated := map[string]bool{}
		for _, f := range files {
			if f.IsDir() || strings.HasSuffix(f.Name(), ".ps1") || strings.HasSuffix(f.Name(), ".json") || strings.HasSuffix(f.Name(), ".jsonl") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(sc.dir, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for _, ph := range placeholder.FindAllString(string(data), -1) {
				templated[ph] = true
				if !strings.Contains(string(run), "'"+ph+"'") {
					t.Errorf("%s/%s: placeholder %s is never replaced by run.ps1", sc.name, f.Name(), ph)
				}
			}
		}
		for _, ph := range placeholder.FindAllString(string(run), -1) {
			if !templated[ph] {
				t.Errorf("%s/run.ps1 replaces %s, which no template of the scenario contains", sc.name, ph)
			}
		}
	}
	if len(generated) != len(scenarios) {
		t.Errorf("%d fixture definitions for %d scenario folders", len(generated), len(scenarios))
	}
	if kinds["attack"] < 6 || kinds["benign"] < 2 {
		t.Errorf("scenario kinds %v, want at least 6 attack and 2 benign", kinds)
	}
	_ = expect.RequiredKeys
}

// TestVagrantfilePins reads the Vagrantfile as text (no Ruby needed): the box version is one the box's
// catalogue serves (gusztavvargadr/windows-server-2022-standard lists 2601.0.0 and 2511.0.0; the old pin
// 2102.0.2404 is gone) and both providers get 4 vCPUs.
func TestVagrantfilePins(t *testing.T) {
	data, err := os.ReadFile("Vagrantfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^BOX_VERSION = "([^"]+)"`).FindSubmatch(data)
	if m == nil || !slices.Contains([]string{"2601.0.0", "2511.0.0"}, string(m[1])) {
		t.Errorf("BOX_VERSION %q: want a version the catalogue lists (2601.0.0 or 2511.0.0)", m)
	}
	for _, p := range []string{"vb", "hv"} {
		if !regexp.MustCompile(`(?m)^\s*` + p + `\.cpus = 4$`).Match(data) {
			t.Errorf("%s.cpus is not 4", p)
		}
	}
}

// TestDownloadPins: every download is pinned by a real SHA-256 (no placeholder that lets an unpinned
// file through), and the README shows the same pins.
func TestDownloadPins(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for file, variable := range map[string]string{"provision/20-sysmon.ps1": "SysmonZipSha256", "provision/30-osquery.ps1": "OsqueryMsiSha256"} {
		data, err := os.ReadFile(filepath.FromSlash(file))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^\$` + variable + ` = '([^']*)'`).FindSubmatch(data)
		if m == nil || !regexp.MustCompile(`^[0-9a-f]{64}$`).Match(m[1]) {
			t.Errorf("%s: $%s = %q, want a lower-case SHA-256", file, variable, m)
			continue
		}
		short := string(m[1][:8]) + "..." + string(m[1][60:])
		if !bytes.Contains(readme, []byte(short)) {
			t.Errorf("README does not show the pin %s of %s", short, file)
		}
		if !bytes.Contains(data, []byte("Save-PinnedDownload")) {
			t.Errorf("%s downloads without Save-PinnedDownload", file)
		}
	}
	lib, err := os.ReadFile(filepath.Join("lib", "common.ps1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(lib, []byte("PIN-ME")) || !bytes.Contains(lib, []byte("SHA-256 mismatch for")) {
		t.Error("lib/common.ps1 Save-PinnedDownload must refuse every unpinned or mismatching file")
	}
}
