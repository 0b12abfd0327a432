// Package replaycheck runs the project's packs inside the replay harness and builds the correlator, for
// the tests that check the VM scenarios without a VM.
package replaycheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/compilelineage/compile-lineage/extension/replay"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
)

// Host is how the VM appears in result lines: osquery.flags sets --host_identifier=uuid, osquery.conf
// decorates every line with host_uuid and hostname, and the Vagrantfile names the guest cl-win.
type Host struct {
	UUID     string
	Hostname string
}

// VM is the test VM's identity used by the fixtures.
var VM = Host{UUID: "8c0f5a11-0000-4000-8000-00000000c1a1", Hostname: "cl-win"}

// PackQuery is one scheduled query with the name osquery gives its result lines.
type PackQuery struct {
	Name string // pack_<pack>_<query> (default --pack_delimiter "_")
	SQL  string
}

// LoadPackQueries reads pack files (strict JSON) and returns their Windows queries sorted by name.
func LoadPackQueries(dir string, files ...string) ([]PackQuery, error) {
	var out []PackQuery
	for _, f := range files {
		path := filepath.Join(dir, f)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read pack %s: %w", path, err)
		}
		var pack struct {
			Queries map[string]struct {
				Query    string `json:"query"`
				Platform string `json:"platform"`
			} `json:"queries"`
		}
		if err := json.Unmarshal(data, &pack); err != nil {
			return nil, fmt.Errorf("parse pack %s: %w", path, err)
		}
		packName := strings.TrimSuffix(f, filepath.Ext(f))
		for name, q := range pack.Queries {
			if q.Platform != "" && !strings.Contains(q.Platform, "windows") && !strings.Contains(q.Platform, "any") {
				continue
			}
			out = append(out, PackQuery{Name: "pack_" + packName + "_" + name, SQL: q.Query})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RunPackQueries runs every query in the harness and returns the rows osqueryd would log, parsed and as
// result-log lines in osquery's event format. A query that does not run is an error.
func RunPackQueries(ctx context.Context, h *replay.Harness, queries []PackQuery, host Host) ([]expect.ResultRow, []byte, error) {
	var rows []expect.ResultRow
	var buf bytes.Buffer
	now := h.Now()
	for _, q := range queries {
		got, err := h.Query(ctx, q.SQL)
		if err != nil {
			return nil, nil, fmt.Errorf("pack query %s: %w", q.Name, err)
		}
		for _, cols := range got {
			line := map[string]any{
				"name": q.Name, "hostIdentifier": host.UUID,
				"calendarTime": time.Unix(now, 0).UTC().Format("Mon Jan  2 15:04:05 2006 UTC"),
				"unixTime":     now, "epoch": 0, "counter": 1, "numerics": false,
				"decorations": map[string]string{"host_uuid": host.UUID, "hostname": host.Hostname},
				"columns":     cols, "action": "added",
			}
			b, err := json.Marshal(line)
			if err != nil {
				return nil, nil, fmt.Errorf("marshal result line of %s: %w", q.Name, err)
			}
			buf.Write(b)
			buf.WriteByte('\n')
			rows = append(rows, expect.ResultRow{Name: q.Name, HostIdentifier: host.UUID, UnixTime: now, Action: "added", Columns: cols})
		}
	}
	return rows, buf.Bytes(), nil
}

// BuildCorrelator builds ./correlator of the module at root into bin.
func BuildCorrelator(root, bin string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go not on PATH: %w", err)
	}
	cmd := exec.Command(goBin, "build", "-o", bin, "./correlator")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./correlator: %w: %s", err, out)
	}
	return nil
}

// ScoreAs runs `correlator score --all` over the result log at logPath with a roles file giving host role.
func ScoreAs(ctx context.Context, bin, logPath string, host Host, role string) ([]expect.Alert, error) {
	roles := filepath.Join(filepath.Dir(logPath), "roles-"+role+".csv")
	if err := os.WriteFile(roles, []byte("host,role\n"+host.Hostname+","+role+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", roles, err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "score", "--all", "--quiet", "--roles", roles, logPath)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s score as %s: %w: %s", bin, role, err, strings.TrimSpace(stderr.String()))
	}
	alerts, err := expect.ParseAlerts("correlator as "+role, &stdout)
	if err != nil {
		return nil, err
	}
	for _, a := range alerts {
		if a.Role != "" && !strings.EqualFold(a.Role, role) {
			return nil, fmt.Errorf("alert %s scored as role %q, want %q", a.LineageID, a.Role, role)
		}
	}
	return alerts, nil
}
