// Command vmassert is the Windows VM test bed's checker, run inside the VM (make build puts
// build/vmassert.exe on the synced C:\lineage\build). It talks to the running osqueryd through its
// extensions socket with osquery-go's client, so no osqueryi (and no second copy of the extension) is
// involved, and it does every query, parse and assertion the PowerShell scripts used to do:
//
//	vmassert wait-extension [--socket S] [--timeout 90s]    wait until compile_lineage and its tables are registered
//	vmassert post-checks [--socket S]                       services, event subscribers, packs, compile_telemetry
//	vmassert cap-packs --in DIR --out DIR [--cap 60] FILE.. copy packs with query intervals capped (lab only)
//	vmassert listen --port N --log F --ready F --expect W   the scenarios' 127.0.0.1 listener: exits 0 once
//	                                                        a line starting with W arrived, 1 on --timeout
//	vmassert check --since UNIX [flags] [scenario...]       judge the scenarios that ran and write the report
//	vmassert recheck --rows FILE SCENARIO                   match saved `osqueryi --connect ... --json` compile_lineage
//	                                                        rows (preamble line allowed) against expected.json
//
// Exit status: 0 on success, 1 when a check failed, 2 when the checks could not run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go"

	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/vmassert"
)

// Defaults of the lab VM (provision/osquery.flags, Vagrantfile synced folders).
const (
	defaultSocket    = `\\.\pipe\osquery.em`
	defaultLogDir    = `C:\Program Files\osquery\log`
	defaultScenarios = `C:\lineage\vm\scenarios`
	defaultOut       = `C:\lineage\vm\out`
	extensionName    = "compile_lineage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: vmassert wait-extension|post-checks|cap-packs|listen|check|recheck [flags]")
		return 2
	}
	var err error
	switch args[0] {
	case "wait-extension":
		err = waitExtension(ctx, args[1:], stdout)
	case "post-checks":
		err = postChecks(ctx, args[1:], stdout)
	case "cap-packs":
		err = capPacks(args[1:], stdout)
	case "listen":
		err = listen(ctx, args[1:])
	case "check":
		err = check(ctx, args[1:], stdout, stderr)
	case "recheck":
		err = recheck(args[1:], stdout)
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, vmassert.ErrFailed):
		fmt.Fprintln(stderr, "vmassert:", err)
		return 1
	default:
		fmt.Fprintln(stderr, "vmassert:", err)
		return 2
	}
}

// daemon is where osqueryd listens and how long to wait for its socket to open.
type daemon struct {
	socket  string
	timeout time.Duration
}

func daemonFlags(fs *flag.FlagSet) *daemon {
	d := &daemon{}
	fs.StringVar(&d.socket, "socket", defaultSocket, "osqueryd --extensions_socket")
	fs.DurationVar(&d.timeout, "connect-timeout", 10*time.Second, "how long to wait for the socket to open")
	return d
}

func (d *daemon) connect() (*osquery.ExtensionManagerClient, error) {
	c, err := osquery.NewClient(d.socket, d.timeout, osquery.MaxWaitTime(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("connect to osqueryd at %s: %w", d.socket, err)
	}
	return c, nil
}

func waitExtension(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("wait-extension", flag.ContinueOnError)
	d := daemonFlags(fs)
	timeout := fs.Duration("timeout", 90*time.Second, "how long to wait for the registration")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tables := []string{"compile_lineage", "compile_telemetry"}
	deadline := time.Now().Add(*timeout)
	last := "osqueryd's socket not open yet"
	for {
		if c, err := d.connect(); err != nil {
			last = err.Error()
		} else {
			version, missing, err := vmassert.ExtensionState(ctx, vmassert.WithTimeout(c, 30*time.Second), extensionName, tables)
			c.Close()
			switch {
			case err != nil:
				last = err.Error()
			case version == "":
				last = "extension " + extensionName + " not registered"
			case len(missing) > 0:
				last = "tables not registered: " + strings.Join(missing, ", ")
			default:
				fmt.Fprintf(stdout, "extension %s %s registered with tables %s\n", extensionName, version, strings.Join(tables, ", "))
				return nil
			}
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%w: after %s: %s", vmassert.ErrFailed, *timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func postChecks(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("post-checks", flag.ContinueOnError)
	d := daemonFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := d.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	fails, notes, err := vmassert.PostChecks(ctx, vmassert.WithTimeout(c, time.Minute))
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(stdout, n)
	}
	for _, f := range fails {
		fmt.Fprintln(stdout, "FAIL", f)
	}
	if len(fails) > 0 {
		return fmt.Errorf("%w: %d post check(s)", vmassert.ErrFailed, len(fails))
	}
	fmt.Fprintln(stdout, "post checks passed")
	return nil
}

func capPacks(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cap-packs", flag.ContinueOnError)
	in := fs.String("in", `C:\lineage\packs`, "folder of the packs as shipped")
	out := fs.String("out", `C:\Program Files\osquery\packs`, "folder osquery.conf loads them from")
	limit := fs.Int("cap", 60, "highest query interval in seconds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("cap-packs: name the pack files")
	}
	if err := os.MkdirAll(*out, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", *out, err)
	}
	for _, name := range fs.Args() {
		src := filepath.Join(*in, name)
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("read %s: %w", src, err)
		}
		capped, err := vmassert.CapPackIntervals(src, data, *limit)
		if err != nil {
			return err
		}
		dst := filepath.Join(*out, name)
		if err := os.WriteFile(dst, capped, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
		fmt.Fprintf(stdout, "pack %s -> %s (intervals <= %d s)\n", src, dst, *limit)
	}
	return nil
}

func listen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	port := fs.Int("port", 0, "127.0.0.1 port (expected.json listener_port)")
	logPath := fs.String("log", "", "file each connection's first line is appended to")
	ready := fs.String("ready", "", "file written once the port is bound")
	expect := fs.String("expect", "", "first word of the line the scenario's payload sends")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up waiting for that line after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *logPath == "" || *ready == "" || *expect == "" {
		return errors.New("listen: --log, --ready and --expect are required")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	err := vmassert.Listen(ctx, *port, *logPath, *ready, *expect)
	if errors.Is(err, vmassert.ErrNoBeacon) {
		return fmt.Errorf("%w: %w", vmassert.ErrFailed, err)
	}
	return err
}

func check(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	d := daemonFlags(fs)
	c := vmassert.Config{}
	fs.StringVar(&c.Scenarios, "scenarios", defaultScenarios, "scenario folders with expected.json")
	fs.StringVar(&c.Out, "out", defaultOut, "output folder (windows-vm/out on the host)")
	logDir := fs.String("log-dir", defaultLogDir, "osqueryd --logger_path")
	fs.Int64Var(&c.Since, "since", 0, "unix time the scenario run started (required)")
	fs.DurationVar(&c.PackWait, "pack-wait", 4*time.Minute, "how long to wait for the scheduled queries' rows")
	fs.DurationVar(&c.Poll, "poll", 5*time.Second, "how often to look again while waiting")
	verbose := fs.Bool("verbose", false, "log progress")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.Since <= 0 {
		return errors.New("check: --since is required (unix seconds when the scenarios started)")
	}
	for _, a := range fs.Args() {
		c.Names = append(c.Names, strings.Split(a, ",")...)
	}
	c.Names = nonEmpty(c.Names)
	c.ResultsLog = filepath.Join(*logDir, "osqueryd.results.log")
	for _, n := range []string{"osqueryd.INFO", "osqueryd.WARNING", "osqueryd.ERROR"} {
		c.DaemonLogs = append(c.DaemonLogs, filepath.Join(*logDir, n))
	}
	level := hclog.Warn
	if *verbose {
		level = hclog.Info
	}
	c.Logger = hclog.New(&hclog.LoggerOptions{Name: "vmassert", Level: level, Output: stderr})
	client, err := d.connect()
	if err != nil {
		return err
	}
	defer client.Close()
	err = vmassert.Run(ctx, c, vmassert.WithTimeout(client, 2*time.Minute))
	if report, rerr := os.ReadFile(filepath.Join(c.Out, "report.txt")); rerr == nil {
		stdout.Write(report)
	}
	return err
}

// recheck matches compile_lineage rows saved from osqueryi (for a look by hand in the VM, or rows from
// another daemon) against one scenario's expected rows. The file holds only the rows to judge: there is
// no process tree to attribute them with.
func recheck(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("recheck", flag.ContinueOnError)
	scenarios := fs.String("scenarios", defaultScenarios, "scenario folders with expected.json")
	rowsPath := fs.String("rows", "", "output of osqueryi --connect <socket> --disable_extensions --json 'SELECT * FROM compile_lineage ...'")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rowsPath == "" || fs.NArg() != 1 {
		return errors.New("recheck: --rows FILE and one scenario name are required")
	}
	exps, err := vmassert.LoadExpected(*scenarios, fs.Args())
	if err != nil {
		return err
	}
	data, err := os.ReadFile(*rowsPath)
	if err != nil {
		return fmt.Errorf("read %s: %w", *rowsPath, err)
	}
	rows, err := vmassert.ParseShellJSON(*rowsPath, data)
	if err != nil {
		return err
	}
	failed := 0
	for i, want := range exps[0].Lineage {
		if idx, why := want.Match(rows); idx < 0 {
			failed++
			fmt.Fprintf(stdout, "FAIL lineage[%d] %s: %s\n", i, want, strings.Join(why, "; "))
		} else {
			fmt.Fprintf(stdout, "PASS lineage[%d] %s: %s\n", i, want, expect.Describe(rows[idx]))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d expected rows", vmassert.ErrFailed, failed, len(exps[0].Lineage))
	}
	return nil
}

func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
