package compilelineage

import "time"

// Proc is one process start, whatever telemetry it came from.
type Proc struct {
	// Key identifies the process for its whole life: a Sysmon ProcessGuid, an ETW process
	// sequence number, pid:pidversion plus the exec's sequence number (EndpointSecurity), or
	// pid@start for sources that have nothing better.
	Key       string
	ParentKey string // the parent's Key when the source says it (Sysmon, ETW); else empty
	PID       int64
	PPID      int64
	// PIDVersion and ParentPIDVersion are macOS's pidversion of the process and of its parent
	// (es_process_events): a fresh number at every fork from one counter that only grows, kept
	// across exec, so pid plus pidversion names one process even when the pid is reused within
	// the same second. 0 when the source has none.
	PIDVersion       int64
	ParentPIDVersion int64
	// Seq orders the exec events of one process within a second (es_process_events
	// global_seq_num: a shell that execs the compiler keeps its pid and pidversion).
	Seq     int64
	Path    string
	Cmdline string
	User    string
	Cwd     string
	// OriginalName is the PE original file name (Sysmon), which survives renaming.
	OriginalName string
	// ParentPath and ParentCmdline are what the child's own event says of its parent; they
	// fill in when the parent's start is outside the buffer.
	ParentPath    string
	ParentCmdline string
	SHA256        string
	Time          time.Time
	Source        string
}

// FileEvent is a file written (or created) by a process, or seen by a pid-less monitor.
type FileEvent struct {
	ProcKey string // writer's Key when the source has it
	PID     int64  // writer's pid when the source has it (0 = unknown)
	Image   string // writer's image when the source says it (Sysmon event 11)
	Path    string
	SHA256  string
	Time    time.Time
	Source  string // sysmon, process_file_events, es_process_file_events, file_events, ntfs_journal_events
}

// Conn is an outbound connection.
type Conn struct {
	ProcKey string
	PID     int64
	Remote  string
	Port    int64
	Time    time.Time // zero for point-in-time snapshots (process_open_sockets)
	Source  string
}

// ImageLoad is a module loaded into a process (Sysmon event 7).
type ImageLoad struct {
	ProcKey string // the loading process's Key
	PID     int64
	Image   string // the loading process's image
	Path    string // the module loaded
	Time    time.Time
	Source  string
}

// Events is everything the lineage is built from.
type Events struct {
	Platform string
	Host     string // system_info.uuid, part of every lineage id
	Procs    []Proc
	Files    []FileEvent
	Conns    []Conn
	Loads    []ImageLoad
	// Gaps lists the signals that were missing or disabled, e.g. no_file_events.
	Gaps []string
	// ResponseFiles holds the response files (@file) named on the compilers' command lines, by
	// the path the command line names (joined with the working folder), as collection found
	// them. The core reads no file itself: what is not here is not used.
	ResponseFiles map[string]ResponseFile
	// Failed lists the sources whose queries failed during collection; the rows were built
	// without them (each also has a source_failed:<source> gap). The core does not read it.
	Failed []SourceError
}

// SourceError is one source that failed during collection.
type SourceError struct {
	Source string // the source's name, e.g. socket_events or sysmon
	Err    error
}

// ResponseFile is one response file as collection found it.
type ResponseFile struct {
	Data []byte
	// Refused says why the file was not read (a remote, device or linked path, a FIFO or
	// other special file, too large, too slow); empty when Data holds it.
	Refused string
}

// Lineage is one compile, linked to its parent, artifact, executions and network.
type Lineage struct {
	ID       string
	Platform string
	Source   string
	Compiler Proc
	Parent   Proc // may be partial (from the compiler's own event) or empty
	Ancestry []string

	ParentClass string

	OutputPath    string
	OutputSource  string // cmdline, file_event, both, none
	Written       bool
	WrittenTime   time.Time
	writtenSource string // the file source that saw the write (skew windows differ)
	ArtifactSHA   string
	Executions    int
	FirstExecPID  int64
	FirstExecTime time.Time

	Connections    int
	FirstRemote    string
	FirstPort      int64
	ConnectionFrom string // artifact, compiler, parent

	Followups []string
	Stage     string
	Evidence  []string
	Reasons   []string
	Gaps      []string
}

// Suspicious reports whether any reason was found.
func (l *Lineage) Suspicious() bool { return len(l.Reasons) > 0 }
