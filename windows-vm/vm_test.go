package windowsvm

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/fixture"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/replaycheck"
)

var placeholder = regexp.MustCompile(`__[A-Z0-9]+__`)

const strictHeader = "Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'"

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
		"provider virtualbox memory >= 4096 MB", "build/ is synced", "packs/ is synced", "provision script exists: 40-extension.ps1"} {
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
		if d.IsDir() && (d.Name() == ".vagrant" || d.Name() == "cache" || d.Name() == "out") {
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
	if len(files) < 15 {
		t.Fatalf("found %d PowerShell files, want the provisioning, scenario and assertion scripts", len(files))
	}
	return files
}

// badVarColon finds "$name:" followed by a non-name character inside a line: PowerShell parses "$name:"
// as a scope/drive-qualified variable and refuses the script ("Variable reference is not valid").
var badVarColon = regexp.MustCompile(`\$[A-Za-z_][A-Za-z0-9_]*:([^A-Za-z0-9_:\\]|$)`)

// TestPowerShellScripts applies the deterministic lints the Linux host can run (there is no pwsh here;
// the real parse happens in the VM: provision/00-syntax-check.ps1 parses every script before any runs).
func TestPowerShellScripts(t *testing.T) {
	for _, p := range powershellFiles(t) {
		t.Run(filepath.ToSlash(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("read %s: %v", p, err)
			}
			if bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) {
				t.Errorf("%s starts with a BOM", p)
			}
			for i, b := range data {
				if b > 127 {
					t.Fatalf("%s: non-ASCII byte 0x%02x at offset %d (PowerShell 5.1 reads BOM-less files as ANSI)", p, b, i)
				}
			}
			lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
			if lines[0] != strictHeader {
				t.Errorf("%s:1: %q, want the strict-mode header %q", p, lines[0], strictHeader)
			}
			// PowerShell parses a whole file before it runs any of it: a script that parses
			// itself can never report its own syntax error. 00-syntax-check.ps1 does it for all.
			if strings.Contains(string(data), "ParseFile($PSCommandPath") {
				t.Errorf("%s: a script cannot check its own syntax (PowerShell parses the file before running it); provision/00-syntax-check.ps1 parses every script", p)
			}
			for n, line := range lines {
				code := line
				if i := strings.Index(code, "#"); i >= 0 && !strings.Contains(code[:i], `"`) && !strings.Contains(code[:i], "'") {
					code = code[:i]
				}
				if m := badVarColon.FindString(code); m != "" {
					t.Errorf("%s:%d: %q is parsed as a drive-qualified variable; write ${name}: instead", p, n+1, m)
				}
				lower := strings.ToLower(code)
				if strings.Contains(lower, "extensions.load") && (strings.Contains(lower, "out-file") ||
					strings.Contains(lower, "set-content") || strings.Contains(lower, "add-content") || strings.Contains(code, "> ")) {
					t.Errorf("%s:%d: extensions.load must be written with Write-Utf8NoBom (UTF-8 without BOM)", p, n+1)
				}
				if n > 0 && strings.HasPrefix(strings.ToLower(code), "param(") {
					t.Errorf("%s:%d: a script-level param() block must be the first statement, before the strict-mode header: take arguments through $args", p, n+1)
				}
				if filepath.Dir(p) != "lib" && strings.Contains(code, "2>&1") {
					t.Errorf("%s:%d: run native programs with Invoke-Native (lib/common.ps1): 2>&1 under $ErrorActionPreference='Stop' turns stderr into terminating errors in PowerShell 5.1", p, n+1)
				}
				if strings.HasPrefix(p, "scenarios"+string(filepath.Separator)) || strings.HasPrefix(p, "assert"+string(filepath.Separator)) {
					if strings.Contains(lower, "invoke-webrequest") || strings.Contains(lower, "net.webclient") {
						t.Errorf("%s:%d: scenarios and assertions must stay offline", p, n+1)
					}
				}
			}
		})
	}
}

// TestSysmonConfig checks the Sysmon configuration is well-formed XML and records process create (1),
// network connect (3), file create (11) and file delete (23).
func TestSysmonConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("provision", "sysmon-config.xml"))
	if err != nil {
		t.Fatalf("read sysmon config: %v", err)
	}
	type rule struct {
		XMLName    xml.Name
		OnMatch    string     `xml:"onmatch,attr"`
		Conditions []xml.Name `xml:",any"`
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
			case r.OnMatch == "include" && len(r.Conditions) > 0:
				records[name] = true
			}
		}
	}
	for eid, name := range map[int]string{1: "ProcessCreate", 3: "NetworkConnect", 11: "FileCreate", 23: "FileDelete"} {
		if !records[name] {
			t.Errorf("sysmon config does not record EID %d (%s)", eid, name)
		}
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
		if !strings.Contains(string(run), "Save-ScenarioResult") {
			t.Errorf("%s/run.ps1 never calls Save-ScenarioResult (the assertion step reads run.json)", sc.name)
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

// TestDownloadsArePinned: every download of the provisioning goes through Get-PinnedDownload
// with a real SHA-256 pin (64 hex digits, no placeholder) and names where the pin lives, so a
// mismatch can say how to move it.
func TestDownloadsArePinned(t *testing.T) {
	pinRe := regexp.MustCompile(`(?m)^\$([A-Za-z]+Sha256) = '([^']*)'`)
	callRe := regexp.MustCompile(`Get-PinnedDownload -Url \S+ -Name \S+ -Sha256 \$([A-Za-z]+Sha256) -PinnedIn '([^']+)'`)
	calls := 0
	for _, p := range powershellFiles(t) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		if strings.Contains(s, "Invoke-WebRequest") && filepath.Base(p) != "common.ps1" {
			t.Errorf("%s downloads without Get-PinnedDownload", p)
		}
		pins := map[string]string{}
		for _, m := range pinRe.FindAllStringSubmatch(s, -1) {
			pins[m[1]] = m[2]
			if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(m[2]) {
				t.Errorf("%s: $%s = %q is not a lower-case SHA-256", p, m[1], m[2])
			}
		}
		for _, m := range callRe.FindAllStringSubmatch(s, -1) {
			calls++
			if _, ok := pins[m[1]]; !ok {
				t.Errorf("%s: Get-PinnedDownload uses $%s, which the script does not pin", p, m[1])
			}
			if !strings.Contains(m[2], filepath.ToSlash(p)) || !strings.Contains(m[2], "$"+m[1]) {
				t.Errorf("%s: -PinnedIn %q must name the script and $%s", p, m[2], m[1])
			}
		}
	}
	if calls != 2 {
		t.Errorf("%d pinned downloads, want 2 (osquery MSI, Sysmon zip)", calls)
	}
}
