package replay

import (
	"fmt"
	"strings"
)

// The osquery table schemas the harness knows, copied from osquery/osquery specs/**/*.table (osquery 5.23.1,
// see /work/shared/osquery-facts.md section 1). Each column is "name TYPE [hidden] [platform]"; a platform word
// (linux, darwin, windows) limits the column to that platform. A table's platforms limit the table.
// Hidden columns are declared HIDDEN in SQLite, so SELECT * leaves them out as osquery does; a query on a table
// with required columns must constrain one of them (osquery fails the query with "constraint failed").
var schemaSpecs = []tableSpec{
	{
		name: "process_events", spec: "specs/posix/process_events.table", platforms: "linux,darwin",
		publisher: map[string]string{"linux": "auditeventpublisher"},
		cols: `pid BIGINT; path TEXT; mode TEXT; cmdline TEXT; cmdline_size BIGINT hidden; env TEXT hidden;
env_count BIGINT hidden; env_size BIGINT hidden; cwd TEXT; auid BIGINT; uid BIGINT; euid BIGINT; gid BIGINT;
egid BIGINT; owner_uid BIGINT; owner_gid BIGINT; atime BIGINT; mtime BIGINT; ctime BIGINT; btime BIGINT;
overflows TEXT hidden; parent BIGINT; time BIGINT; uptime BIGINT; eid TEXT hidden; status BIGINT darwin;
fsuid BIGINT linux; suid BIGINT linux; fsgid BIGINT linux; sgid BIGINT linux; syscall TEXT linux`,
	},
	{
		name: "socket_events", spec: "specs/posix/socket_events.table", platforms: "linux,darwin",
		publisher: map[string]string{"linux": "auditeventpublisher"},
		cols: `action TEXT; pid BIGINT; path TEXT; fd TEXT; auid BIGINT; family INTEGER; protocol INTEGER hidden;
local_address TEXT; remote_address TEXT; local_port INTEGER; remote_port INTEGER; socket TEXT hidden; time BIGINT;
uptime BIGINT; eid TEXT hidden; success INTEGER hidden; status TEXT linux`,
	},
	{
		name: "file_events", spec: "specs/posix/file_events.table", platforms: "linux,darwin",
		publisher: map[string]string{"linux": "inotify", "darwin": "fsevents"},
		cols: `target_path TEXT; category TEXT; action TEXT; transaction_id BIGINT; inode BIGINT; uid BIGINT;
gid BIGINT; mode TEXT; size BIGINT; atime BIGINT; mtime BIGINT; ctime BIGINT; md5 TEXT; sha1 TEXT; sha256 TEXT;
hashed INTEGER; time BIGINT; eid TEXT hidden`,
	},
	{
		name: "process_file_events", spec: "specs/linux/process_file_events.table", platforms: "linux",
		publisher: map[string]string{"linux": "auditeventpublisher"},
		cols: `operation TEXT; pid BIGINT; ppid BIGINT; time BIGINT; executable TEXT; partial TEXT; cwd TEXT;
path TEXT; dest_path TEXT; uid TEXT; gid TEXT; auid TEXT; euid TEXT; egid TEXT; fsuid TEXT; fsgid TEXT;
suid TEXT; sgid TEXT; uptime BIGINT; eid TEXT hidden`,
	},
	{
		name: "process_etw_events", spec: "specs/windows/process_etw_events.table", platforms: "windows",
		cols: `type TEXT; pid BIGINT; ppid BIGINT; session_id INTEGER; flags INTEGER; exit_code INTEGER; path TEXT;
cmdline TEXT; username TEXT; token_elevation_type TEXT; token_elevation_status INTEGER; mandatory_label TEXT;
datetime DATETIME; time_windows BIGINT hidden; time BIGINT hidden; eid INTEGER hidden; header_pid BIGINT hidden;
process_sequence_number BIGINT hidden; parent_process_sequence_number BIGINT hidden`,
	},
	{
		name: "ntfs_journal_events", spec: "specs/windows/ntfs_journal_events.table", platforms: "windows",
		cols: `action TEXT; category TEXT; old_path TEXT; path TEXT; record_timestamp TEXT; record_usn TEXT;
node_ref_number TEXT; parent_ref_number TEXT; drive_letter TEXT; file_attributes TEXT; partial BIGINT; time BIGINT;
eid TEXT hidden`,
	},
	{
		name: "windows_events", spec: "specs/windows/windows_events.table", platforms: "windows",
		publisher: map[string]string{"windows": "WindowsEventLogPublisher"},
		cols: `time BIGINT; datetime TEXT; source TEXT; provider_name TEXT; provider_guid TEXT; computer_name TEXT;
eventid INTEGER; task INTEGER; level INTEGER; keywords TEXT; data TEXT; eid TEXT hidden`,
	},
	{
		name: "powershell_events", spec: "specs/windows/powershell_events.table", platforms: "windows",
		publisher: map[string]string{"windows": "WindowsEventLogPublisher"},
		cols: `time BIGINT; datetime TEXT; script_block_id TEXT; script_block_count INTEGER; script_text TEXT;
script_name TEXT; script_path TEXT; cosine_similarity DOUBLE`,
	},
	{
		name: "dns_lookup_events", spec: "specs/windows/dns_lookup_events.table", platforms: "windows",
		cols: `eid INTEGER hidden; time BIGINT hidden; time_windows BIGINT hidden; datetime DATETIME; pid BIGINT;
path TEXT; username TEXT; name TEXT; type TEXT; type_id INTEGER; status INTEGER; response TEXT`,
	},
	{
		name: "es_process_events", spec: "specs/darwin/es_process_events.table", platforms: "darwin",
		publisher: map[string]string{"darwin": "endpointsecurity"},
		cols: `version INTEGER; seq_num BIGINT; global_seq_num BIGINT; pid BIGINT; path TEXT; parent BIGINT;
original_parent BIGINT; cmdline TEXT; cmdline_count BIGINT; env TEXT; env_count BIGINT; cwd TEXT; uid BIGINT;
euid BIGINT; gid BIGINT; egid BIGINT; username TEXT; signing_id TEXT; team_id TEXT; cdhash TEXT;
platform_binary INTEGER; exit_code INTEGER; child_pid BIGINT; time BIGINT; event_type TEXT; eid TEXT hidden;
codesigning_flags TEXT`,
	},
	{
		name: "es_process_file_events", spec: "specs/darwin/es_process_file_events.table", platforms: "darwin",
		publisher: map[string]string{"darwin": "endpointsecurity_fim"},
		cols: `version INTEGER; seq_num BIGINT; global_seq_num BIGINT; pid BIGINT; parent BIGINT; path TEXT;
filename TEXT; dest_filename TEXT; event_type TEXT; time BIGINT; eid TEXT hidden`,
	},
	{
		name: "windows_eventlog", spec: "specs/windows/windows_eventlog.table", platforms: "windows", plain: true,
		cols: `channel TEXT required; datetime TEXT; task INTEGER; level INTEGER; provider_name TEXT; provider_guid TEXT;
computer_name TEXT; eventid INTEGER; keywords TEXT; data TEXT; pid INTEGER; tid INTEGER; time_range TEXT hidden;
timestamp TEXT hidden; xpath TEXT hidden required`,
	},
	{
		name: "process_open_sockets", spec: "specs/process_open_sockets.table", plain: true,
		cols: `pid INTEGER; fd BIGINT; socket BIGINT; family INTEGER; protocol INTEGER; local_address TEXT;
remote_address TEXT; local_port INTEGER; remote_port INTEGER; path TEXT; state TEXT; net_namespace TEXT linux`,
	},
	{
		name: "listening_ports", spec: "specs/listening_ports.table", plain: true,
		cols: `pid INTEGER; port INTEGER; protocol INTEGER; family INTEGER; address TEXT; fd BIGINT; socket BIGINT;
path TEXT; net_namespace TEXT linux`,
	},
	{
		name: "processes", spec: "specs/processes.table", plain: true,
		cols: `pid BIGINT; name TEXT; path TEXT; cmdline TEXT; state TEXT; cwd TEXT; root TEXT; uid BIGINT;
gid BIGINT; euid BIGINT; egid BIGINT; suid BIGINT; sgid BIGINT; on_disk INTEGER; wired_size BIGINT;
resident_size BIGINT; total_size BIGINT; user_time BIGINT; system_time BIGINT; disk_bytes_read BIGINT;
disk_bytes_written BIGINT; start_time BIGINT; parent BIGINT; pgroup BIGINT; threads INTEGER; nice INTEGER;
elevated_token INTEGER windows; secure_process INTEGER windows; protection_type TEXT windows;
virtual_process INTEGER windows; elapsed_time BIGINT windows; handle_count BIGINT windows;
percent_processor_time BIGINT windows; upid BIGINT darwin; uppid BIGINT darwin; cpu_type INTEGER darwin;
cpu_subtype INTEGER darwin; translated INTEGER darwin; cgroup_path TEXT linux`,
	},
	{
		name: "hash", spec: "specs/hash.table", plain: true,
		cols: `path TEXT required; directory TEXT required; md5 TEXT; sha1 TEXT; sha256 TEXT; pid_with_namespace INTEGER hidden linux;
mount_namespace_id TEXT hidden linux`,
	},
	{
		name: "authenticode", spec: "specs/windows/authenticode.table", platforms: "windows", plain: true,
		cols: `path TEXT required; original_program_name TEXT; serial_number TEXT; issuer_name TEXT; subject_name TEXT; result TEXT`,
	},
	{
		name: "users", spec: "specs/users.table", plain: true,
		cols: `uid BIGINT; gid BIGINT; uid_signed BIGINT; gid_signed BIGINT; username TEXT; description TEXT;
directory TEXT; shell TEXT; uuid TEXT; type TEXT windows; is_hidden INTEGER darwin;
pid_with_namespace INTEGER hidden linux; include_remote INTEGER hidden linux`,
	},
	{
		name: "system_info", spec: "specs/system_info.table", plain: true,
		cols: `hostname TEXT; uuid TEXT; cpu_type TEXT; cpu_subtype TEXT; cpu_brand TEXT; cpu_physical_cores INTEGER;
cpu_logical_cores INTEGER; cpu_sockets INTEGER; cpu_microcode TEXT; physical_memory BIGINT; hardware_vendor TEXT;
hardware_model TEXT; hardware_version TEXT; hardware_serial TEXT; board_vendor TEXT; board_model TEXT;
board_version TEXT; board_serial TEXT; computer_name TEXT; local_hostname TEXT; emulated_cpu_type TEXT windows`,
	},
	{
		name: "osquery_info", spec: "specs/utility/osquery_info.table", plain: true,
		cols: `pid INTEGER; uuid TEXT; instance_id TEXT; version TEXT; config_hash TEXT; config_valid INTEGER;
extensions TEXT; build_platform TEXT; build_distro TEXT; start_time INTEGER; watcher INTEGER; platform_mask INTEGER`,
	},
	{
		name: "osquery_flags", spec: "specs/utility/osquery_flags.table", plain: true,
		cols: `name TEXT; type TEXT; description TEXT; default_value TEXT; value TEXT; shell_only INTEGER`,
	},
	{
		name: "osquery_events", spec: "specs/utility/osquery_events.table", plain: true,
		cols: `name TEXT; publisher TEXT; type TEXT; subscriptions INTEGER; events INTEGER; refreshes INTEGER;
active INTEGER`,
	},
	{
		name: "osquery_schedule", spec: "specs/utility/osquery_schedule.table", plain: true,
		cols: `name TEXT; query TEXT; interval INTEGER; executions BIGINT; last_executed BIGINT; denylisted INTEGER;
output_size BIGINT; wall_time BIGINT; wall_time_ms BIGINT; last_wall_time_ms BIGINT; user_time BIGINT;
last_user_time BIGINT; system_time BIGINT; last_system_time BIGINT; average_memory BIGINT; last_memory BIGINT`,
	},
	{
		name: "osquery_packs", spec: "specs/utility/osquery_packs.table", plain: true,
		cols: `name TEXT; platform TEXT; version TEXT; shard INTEGER; discovery_cache_hits INTEGER;
discovery_executions INTEGER; active INTEGER`,
	},
	{
		name: "osquery_extensions", spec: "specs/utility/osquery_extensions.table", plain: true,
		cols: `uuid BIGINT; name TEXT; version TEXT; sdk_version TEXT; path TEXT; type TEXT`,
	},
	{
		name: "osquery_registry", spec: "specs/utility/osquery_registry.table", plain: true,
		cols: `registry TEXT; name TEXT; owner_uuid INTEGER; internal INTEGER; active INTEGER`,
	},
	{
		name: "services", spec: "specs/windows/services.table", platforms: "windows", plain: true,
		cols: `name TEXT; service_type TEXT; display_name TEXT; status TEXT; pid INTEGER; start_type TEXT;
win32_exit_code INTEGER; service_exit_code INTEGER; path TEXT; module_path TEXT; description TEXT; user_account TEXT`,
	},
}

// tableSpec is one entry of schemaSpecs.
type tableSpec struct {
	name      string
	spec      string // osquery spec file
	platforms string // comma-separated; empty = every platform
	plain     bool   // not an event subscriber
	publisher map[string]string
	cols      string
}

// Column is one column of an osquery table.
type Column struct {
	Name     string
	Type     string // TEXT, INTEGER, BIGINT, UNSIGNED_BIGINT, DOUBLE, DATETIME, BLOB
	Hidden   bool
	Required bool
	Platform string // empty = every platform
}

// Table is an osquery table schema.
type Table struct {
	Name      string
	Spec      string
	Platforms []string // empty = every platform
	Evented   bool
	Publisher map[string]string // platform -> event publisher name, when verified in osquery's source
	Columns   []Column          // every platform's columns
}

// Schema returns the osquery table schemas known to the harness, keyed by table name.
func Schema() map[string]*Table {
	out := make(map[string]*Table, len(schemaSpecs))
	for _, s := range schemaSpecs {
		t := &Table{Name: s.name, Spec: s.spec, Evented: !s.plain, Publisher: s.publisher}
		if s.platforms != "" {
			t.Platforms = strings.Split(s.platforms, ",")
		}
		for _, f := range strings.Split(s.cols, ";") {
			w := strings.Fields(f)
			if len(w) < 2 {
				panic(fmt.Sprintf("schema %s: bad column %q", s.name, f))
			}
			c := Column{Name: w[0], Type: w[1]}
			for _, x := range w[2:] {
				switch x {
				case "hidden":
					c.Hidden = true
				case "required":
					c.Required = true
				case "linux", "darwin", "windows":
					c.Platform = x
				default:
					panic(fmt.Sprintf("schema %s: bad column attribute %q", s.name, x))
				}
			}
			t.Columns = append(t.Columns, c)
		}
		out[s.name] = t
	}
	return out
}

// OnPlatform reports whether the table exists on platform.
func (t *Table) OnPlatform(platform string) bool {
	if len(t.Platforms) == 0 {
		return true
	}
	for _, p := range t.Platforms {
		if p == platform {
			return true
		}
	}
	return false
}

// ColumnsFor returns the table's columns on platform (all columns when platform is empty).
func (t *Table) ColumnsFor(platform string) []Column {
	var out []Column
	for _, c := range t.Columns {
		if platform == "" || c.Platform == "" || c.Platform == platform {
			out = append(out, c)
		}
	}
	return out
}

// column returns the column named name (any platform).
func (t *Table) column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// isNumeric reports whether values of type typ are integers or reals in SQLite.
func isNumeric(typ string) bool {
	switch typ {
	case "INTEGER", "BIGINT", "UNSIGNED_BIGINT", "DOUBLE":
		return true
	}
	return false
}
