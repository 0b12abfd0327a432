package windowsvm

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// flagSetting is one line of an osquery flag file: --name=value (value "" when the flag is bare).
type flagSetting struct {
	Name  string
	Value string
	Line  int
}

// parseFlagFile reads an osquery (gflags) flag file: one --flag or --flag=value per line, blank lines
// and lines starting with # ignored. Anything else is an error naming the file and line.
func parseFlagFile(name string, data []byte) ([]flagSetting, error) {
	var out []flagSetting
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		body, ok := strings.CutPrefix(line, "--")
		if !ok {
			return nil, fmt.Errorf("%s:%d: %q does not start with --", name, n, line)
		}
		flagName, value, _ := strings.Cut(body, "=")
		if flagName == "" || strings.ContainsAny(flagName, " \t\"'") {
			return nil, fmt.Errorf("%s:%d: bad flag name in %q", name, n, line)
		}
		out = append(out, flagSetting{Name: flagName, Value: value, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	return out, nil
}

// knownOsqueryFlags are the osquery 5.x flag names this test bed may set, as listed in the project's
// osquery facts (osquery/osquery sources: events, extensions, logger, config, scheduler).
var knownOsqueryFlags = map[string]bool{
	// config, scheduler, packs
	"config_path": true, "host_identifier": true, "schedule_default_interval": true,
	"schedule_epoch": true, "pack_delimiter": true, "pack_refresh_interval": true, "decorations_top_level": true,
	"verbose": true,
	// logger
	"logger_plugin": true, "logger_path": true, "logger_event_type": true, "logger_snapshot_event_type": true,
	"logger_numerics": true, "logger_mode": true, "logger_rotate": true, "logger_rotate_size": true,
	"logger_rotate_max_files": true,
	// events
	"disable_events": true, "events_expiry": true, "events_max": true, "events_optimize": true,
	"events_enforce_denylist": true, "enable_process_etw_events": true, "enable_windows_events_publisher": true,
	"enable_windows_events_subscriber": true, "windows_event_channels": true, "enable_ntfs_event_publisher": true,
	"enable_dns_lookup_events": true, "enable_powershell_events_subscriber": true, "enable_file_events": true,
	// extensions
	"disable_extensions": true, "extensions_socket": true, "extensions_autoload": true, "extensions_timeout": true,
	"extensions_interval": true, "extensions_require": true, "thrift_timeout": true, "thrift_string_size_limit": true,
	"enable_extensions_watchdog": true, "allow_unsafe": true,
}
