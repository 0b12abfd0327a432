package vmassert

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// ErrNoBeacon is returned when the listener's time ran out before the expected line arrived.
var ErrNoBeacon = errors.New("the expected connection never came")

// Listen serves the scenario listener: it binds 127.0.0.1:port (and nothing else), writes readyPath once
// the port is bound so the scenario knows the listener really runs, then for each connection reads one
// line and appends "<UTC time> <line>" to logPath. It returns nil once a line whose first word is expect
// arrived (the scenario's payload connected), ErrNoBeacon when ctx ends first. A port that is taken is
// an error naming it, before anything is written.
func Listen(ctx context.Context, port int, logPath, readyPath, expect string) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("listen: port %d out of range", port)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1:%d (is the port taken? netsh interface ipv4 show excludedportrange protocol=tcp): %w", port, err)
	}
	defer ln.Close()
	if err := os.WriteFile(readyPath, []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", readyPath, err)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("127.0.0.1:%d: no line starting %q: %w", port, expect, ErrNoBeacon)
			}
			return fmt.Errorf("accept on 127.0.0.1:%d: %w", port, err)
		}
		line, err := readLine(conn)
		conn.Close()
		if err != nil {
			line = "(no line: " + err.Error() + ")"
		}
		if err := appendLine(logPath, time.Now().UTC().Format(time.RFC3339Nano)+" "+line); err != nil {
			return err
		}
		if first, _, _ := strings.Cut(line, " "); first == expect {
			return nil
		}
	}
}

func readLine(c net.Conn) (string, error) {
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return "", err
	}
	r := bufio.NewReader(io.LimitReader(c, 4096))
	s, err := r.ReadString('\n')
	if err != nil && s == "" {
		return "", err
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' {
			return -1
		}
		return r
	}, s)), nil
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}
