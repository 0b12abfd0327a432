package packs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// knownFlags are the osquery flags (osquery-facts.md section 1) the agent options may set, by the platform
// whose osquery build defines them.
var knownFlags = map[string][]string{
	"all": {"disable_events", "events_expiry", "events_max", "events_optimize"},
	"windows": {"enable_process_etw_events", "enable_windows_events_publisher",
		"enable_windows_events_subscriber", "windows_event_channels", "enable_ntfs_event_publisher",
		"enable_dns_lookup_events"},
	"linux": {"disable_audit", "audit_allow_config", "audit_allow_process_events", "audit_persist",
		"audit_allow_fork_process_events", "audit_allow_sockets", "audit_allow_fim_events",
		"enable_file_events", "audit_backlog_limit"},
	"darwin": {"disable_endpointsecurity", "disable_endpointsecurity_fim", "enable_file_events"},
}

// fleetExtensionPlatform maps osquery platform names to the names Fleet's agent_options.extensions uses.
var fleetExtensionPlatform = map[string]string{"windows": "windows", "linux": "linux", "darwin": "macos"}

type agentOptions struct {
	Config struct {
		Options   map[string]any      `yaml:"options"`
		FilePaths map[string][]string `yaml:"file_paths"`
	} `yaml:"config"`
	CommandLineFlags map[string]any `yaml:"command_line_flags"`
	Extensions       map[string]struct {
		Channel  string `yaml:"channel"`
		Platform string `yaml:"platform"`
	} `yaml:"extensions"`
}

func loadAgentOptions(t *testing.T) []agentOptions {
	t.Helper()
	f, err := os.Open("fleet/agent-options.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []agentOptions
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse fleet/agent-options.yml: %v", err)
		}
		var ao agentOptions
		if err := node.Decode(&ao); err != nil {
			t.Fatalf("decode agent options document %d: %v", len(docs)+1, err)
		}
		// Only keys Fleet accepts at the top of agent_options.
		for i := 0; i+1 < len(node.Content[0].Content); i += 2 {
			k := node.Content[0].Content[i].Value
			if !slices.Contains([]string{"config", "command_line_flags", "extensions", "overrides",
				"update_channels", "script_execution_timeout"}, k) {
				t.Errorf("document %d: %q is not an agent_options key", len(docs)+1, k)
			}
		}
		docs = append(docs, ao)
	}
	return docs
}

func flagString(v any) string {
	switch v := v.(type) {
	case bool:
		return fmt.Sprint(v)
	case int:
		return fmt.Sprint(v)
	case string:
		return v
	}
	return fmt.Sprintf("%v", v)
}

func TestAgentOptions(t *testing.T) {
	t.Parallel()
	docs := loadAgentOptions(t)
	byPlatform := map[string]agentOptions{}
	for i, d := range docs {
		if len(d.Extensions) != 1 {
			t.Fatalf("document %d: want exactly one extensions entry, got %d", i+1, len(d.Extensions))
		}
		for name, e := range d.Extensions {
			var platform string
			for p, fp := range fleetExtensionPlatform {
				if fp == e.Platform {
					platform = p
				}
			}
			if platform == "" || e.Channel == "" || name != "compile_lineage_"+e.Platform {
				t.Fatalf("document %d: extension %q platform %q channel %q", i+1, name, e.Platform, e.Channel)
			}
			byPlatform[platform] = d
		}
		if d.Config.Options["pack_delimiter"] != "/" {
			t.Errorf("document %d: config.options.pack_delimiter = %v, want /", i+1, d.Config.Options["pack_delimiter"])
		}
	}
	if len(byPlatform) != len(Platforms) {
		t.Fatalf("agent options cover %d platforms, want %v", len(byPlatform), Platforms)
	}

	for platform, d := range byPlatform {
		// Every flag is one osquery defines on that platform.
		for name := range d.CommandLineFlags {
			if !slices.Contains(knownFlags["all"], name) && !slices.Contains(knownFlags[platform], name) {
				t.Errorf("%s: command_line_flags sets %q, which is not an osquery flag on %s", platform, name, platform)
			}
		}
		if v := d.CommandLineFlags["events_expiry"]; v != EventsExpiry {
			t.Errorf("%s: events_expiry = %v, want %d (the intervals are sized for it)", platform, v, EventsExpiry)
		}
	}

	// Every flag a query needs is set, with the value it needs, on each of its platforms.
	for _, q := range mustEmbedded(t) {
		for platform, flags := range q.Flags {
			d := byPlatform[platform]
			for _, f := range flags {
				got, ok := d.CommandLineFlags[f.Name]
				if !ok {
					t.Errorf("%s needs %s on %s; agent options do not set it", q.Name, f, platform)
					continue
				}
				if flagString(got) != f.Value {
					t.Errorf("%s needs %s on %s; agent options set %v", q.Name, f, platform, got)
				}
			}
		}
	}

	// The tables' needs (osquery-facts.md section 1): process + file + network sources per platform.
	needs := map[string]map[string]string{
		"windows": {"enable_process_etw_events": "true", "enable_windows_events_publisher": "true",
			"enable_windows_events_subscriber": "true"},
		"linux": {"disable_audit": "false", "audit_allow_config": "true", "audit_allow_process_events": "true",
			"audit_allow_sockets": "true", "enable_file_events": "true", "disable_events": "false"},
		"darwin": {"disable_endpointsecurity": "false", "disable_endpointsecurity_fim": "false"},
	}
	for platform, want := range needs {
		for name, value := range want {
			if got := flagString(byPlatform[platform].CommandLineFlags[name]); got != value {
				t.Errorf("%s: %s = %q, want %q", platform, name, got, value)
			}
		}
	}
	channels, _ := byPlatform["windows"].CommandLineFlags["windows_event_channels"].(string)
	if !slices.Contains(strings.Split(channels, ","), "Microsoft-Windows-Sysmon/Operational") {
		t.Errorf("windows_event_channels %q lacks the Sysmon channel", channels)
	}
	if got := byPlatform["linux"].Config.FilePaths["compile_lineage_tmp"]; !slices.Equal(got,
		[]string{"/tmp/%%", "/var/tmp/%%", "/dev/shm/%%"}) {
		t.Errorf("linux file_paths = %v", got)
	}
}
