// Command correlator reads osquery result logs, knows each host's role,
// scores every compile lineage and emits few, explained alerts.
//
//	correlator score --roles ROLES.csv [--policy FILE] [--exceptions FILE] FILE...   (- for stdin)
//	correlator explain [--state DB | --roles ... FILE...] LINEAGE_ID
//	correlator run --config FILE | --roles ... --state DB --follow FILE... [--listen ADDR]
//	correlator run --roles ... --kafka-brokers HOST:PORT --kafka-topic T --kafka-group G [--alerts-topic T]
//	correlator report --html OUT.html [--state DB | FILE...]   (the analyst's page)
//	correlator serve --state DB [--listen 127.0.0.1:8090]      (the same page, live)
//	correlator policy           (print the shipped policy)
//
// See correlator/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "correlator:", err)
		}
		os.Exit(2)
	}
}

var errUsage = errors.New("usage")

const usage = `usage:
  correlator score --roles ROLES.csv|ROLES.yaml [--policy FILE] [--exceptions FILE] [--all] [--format native|ecs] FILE...   (- reads stdin)
  correlator explain [--state DB] [--roles ... --policy ... --exceptions ...] LINEAGE_ID [FILE...]
  correlator run [--roles ...] [--policy ...] [--exceptions ...] --state DB --follow FILE... [--listen 127.0.0.1:8089] [--alerts FILE] [--webhook URL]
                 [--format native|ecs] [--es-url URL [--es-index NAME]] [--splunk-url URL] [--spool DIR] [--siem-ca FILE ...]
  correlator run [--roles ...] --kafka-brokers HOST:PORT[,...] --kafka-topic TOPIC [--kafka-topic ...] --kafka-group GROUP [--alerts-topic TOPIC] [--listen ...] [--alerts FILE] [--webhook URL]
  correlator report --html OUT.html [--state DB | FILE...] [--roles ...] [--policy ...] [--exceptions ...] [--since DURATION]
  correlator serve --state DB [--listen 127.0.0.1:8090] [--token-env CORRELATOR_REPORT_TOKEN] [--since DURATION]
  correlator policy
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "score":
		return cmdScore(ctx, args[1:], stdin, stdout, stderr)
	case "explain":
		return cmdExplain(ctx, args[1:], stdin, stdout, stderr)
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "report":
		return cmdReport(ctx, args[1:], stdin, stdout, stderr)
	case "serve":
		return cmdServe(ctx, args[1:], stderr)
	case "policy":
		_, err := stdout.Write(policyYAML())
		return err
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
		return errUsage
	}
}
