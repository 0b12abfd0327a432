package windowsvm

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPayloadsBuildAndRun compiles the scenarios' test programs with Mono's C# compiler and IL assembler
// (the VM uses .NET Framework's csc, vbc and ilasm; Mono accepts the same sources) and runs them: the
// beacon must reach a 127.0.0.1 listener and refuse any other address, the tools must write their marker.
// tool.vb is not checked here (Debian has no VB.NET compiler). Skipped when mcs or mono are missing
// (apt-get install -y mono-mcs mono-devel).
func TestPayloadsBuildAndRun(t *testing.T) {
	mcs, errMcs := exec.LookPath("mcs")
	mono, errMono := exec.LookPath("mono")
	if errMcs != nil || errMono != nil {
		t.Skip("mcs or mono not on PATH: apt-get install -y mono-mcs mono-devel to compile the scenario payloads")
	}
	dir := t.TempDir()
	build := func(t *testing.T, args ...string) {
		t.Helper()
		out, err := exec.Command(mcs, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("mcs %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	t.Run("beacon reaches loopback only", func(t *testing.T) {
		exe := filepath.Join(dir, "update.exe")
		build(t, "-out:"+exe, filepath.Join("scenarios", "attack_mshta_csc_exec_net", "payload.cs"))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		defer ln.Close()
		got := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- "accept: " + err.Error()
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				got <- "read: " + err.Error()
				return
			}
			got <- line
		}()
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		if out, err := exec.Command(mono, exe, "127.0.0.1", port, "mshta").CombinedOutput(); err != nil {
			t.Fatalf("update.exe: %v\n%s", err, out)
		}
		select {
		case line := <-got:
			if !strings.HasPrefix(line, "mshta ") {
				t.Fatalf("listener got %q, want a line starting with \"mshta \"", line)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no connection within 30 s")
		}
		err = exec.Command(mono, exe, "192.0.2.1", port, "mshta").Run()
		var exit *exec.ExitError
		if err == nil || !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Fatalf("update.exe to a non-loopback address: %v, want exit code 2", err)
		}
	})

	t.Run("tool writes its marker", func(t *testing.T) {
		exe := filepath.Join(dir, "svcupdate.exe")
		build(t, "-out:"+exe, filepath.Join("scenarios", "attack_wscript_csc", "tool.cs"))
		if out, err := exec.Command(mono, exe, "wscript").CombinedOutput(); err != nil {
			t.Fatalf("svcupdate.exe: %v\n%s", err, out)
		}
		assertFile(t, filepath.Join(dir, "svcupdate.txt"), "wscript")
	})

	t.Run("ilasm program writes its marker", func(t *testing.T) {
		ilasm, err := exec.LookPath("ilasm")
		if err != nil {
			t.Skip("ilasm not on PATH (mono-devel)")
		}
		exe := filepath.Join(dir, "invoice.exe")
		if out, err := exec.Command(ilasm, "/exe", "/quiet", "/output:"+exe, filepath.Join("scenarios", "attack_office_cmd_ilasm", "invoice.il")).CombinedOutput(); err != nil {
			t.Fatalf("ilasm: %v\n%s", err, out)
		}
		if out, err := exec.Command(mono, exe).CombinedOutput(); err != nil {
			t.Fatalf("invoice.exe: %v\n%s", err, out)
		}
		assertFile(t, filepath.Join(dir, "invoice.txt"), "office")
	})

	t.Run("Add-Type source and inline task fragment compile", func(t *testing.T) {
		stage, err := os.ReadFile(filepath.Join("scenarios", "attack_powershell_addtype_net", "stage.ps1"))
		if err != nil {
			t.Fatal(err)
		}
		src := between(t, string(stage), "@'\n", "\n'@")
		addType := filepath.Join(dir, "addtype.cs")
		writeFile(t, addType, src)
		build(t, "-target:library", "-out:"+filepath.Join(dir, "addtype.dll"), addType)

		project, err := os.ReadFile(filepath.Join("scenarios", "attack_wmic_msbuild_inline", "inline.xml"))
		if err != nil {
			t.Fatal(err)
		}
		fragment := between(t, string(project), "<![CDATA[", "]]>")
		// CodeTaskFactory wraps a Fragment in Execute() of a task class with the listed usings and parameters.
		task := "using System; using System.Net.Sockets; using System.Text;\nclass ClabBeacon { public int Port { get; set; }\n" +
			"public bool Execute() {\n" + fragment + "\nreturn true; } }\n"
		inline := filepath.Join(dir, "inline.cs")
		writeFile(t, inline, task)
		build(t, "-target:library", "-out:"+filepath.Join(dir, "inline.dll"), inline)
	})
}

func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	j := strings.LastIndex(s, end)
	if i < 0 || j < i {
		t.Fatalf("no text between %q and %q", start, end)
	}
	return s[i+len(start) : j]
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("marker: %v", err)
	}
	if string(got) != want {
		t.Fatalf("%s = %q, want %q", path, got, want)
	}
}
